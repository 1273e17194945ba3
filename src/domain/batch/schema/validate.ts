import { batchErrors } from '../errors.js';
import { parseDuration } from '../duration.js';
import { MODELS } from './models.generated.js';
import { asksNothing, unsupportedProperty, unsupportedPropertyError } from '../unsupported.js';
import type { PropType } from './types.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * Properties that API versions before 2022-10-01 named differently. Old clients and hand-written
 * JSON still send them; each maps to today's property when the model has it.
 */
const LEGACY: Record<string, (value: Json, model: Record<string, unknown>) => [string, Json] | undefined> = {
  blobSource: (value, model) => ('httpUrl' in model ? ['httpUrl', value] : undefined),
  targetDedicated: (value, model) => ('targetDedicatedNodes' in model ? ['targetDedicatedNodes', value] : undefined),
  runElevated: (value, model) =>
    'userIdentity' in model && typeof value === 'boolean' ? ['userIdentity', { autoUser: { elevationLevel: value ? 'admin' : 'nonadmin' } }] : undefined,
};

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A NUL, or a UTF-16 surrogate without its pair: no valid text holds one, and no process can take it. */
const INVALID_TEXT = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Refuses strings that are not valid text (Azure answers 400 before anything reaches a node). */
export function checkText(value: string, path: string): void {
  if (INVALID_TEXT.test(value)) throw batchErrors.invalidProperty(path, value, 'The value holds a NUL character or an unpaired UTF-16 surrogate.');
}

const own = <T>(record: Record<string, T>, name: string): T | undefined => (Object.hasOwn(record, name) ? record[name] : undefined);

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

const kind = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

function check(type: PropType, value: Json, path: string): Json {
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        if (typeof value !== 'string') throw batchErrors.invalidBody(`Property '${path}' expects a string, not ${kind(value)}.`);
        checkText(value, path);
        return value;
      case 'number':
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          throw batchErrors.invalidBody(`Property '${path}' expects an integer, not ${JSON.stringify(value)}.`);
        }
        // The API's integers are Int32 (Azure's deserializer refuses anything wider).
        if (value < INT32_MIN || value > INT32_MAX) throw batchErrors.invalidProperty(path, value, 'The value is not a 32-bit integer.');
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') throw batchErrors.invalidBody(`Property '${path}' expects true or false, not ${JSON.stringify(value)}.`);
        return value;
      case 'datetime':
        if (typeof value !== 'string' || !ISO_DATETIME.test(value) || Number.isNaN(Date.parse(value))) {
          throw batchErrors.invalidProperty(path, value, 'The value is not an ISO 8601 date-time.');
        }
        return new Date(value).toISOString();
      case 'duration':
        if (typeof value !== 'string' || parseDuration(value) === undefined) {
          throw batchErrors.invalidProperty(path, value, 'The value is not an ISO 8601 duration.');
        }
        return value;
      case 'any':
        return value;
    }
  }
  if ('enum' in type) {
    const wanted = typeof value === 'string' ? value.toLowerCase() : undefined;
    // Any case in; out in the case the API defines (lower-case, but for a few camelCase values).
    const canonical = type.enum.find((v) => v.toLowerCase() === wanted);
    if (canonical === undefined) {
      throw batchErrors.invalidProperty(path, value, `The value must be one of: ${type.enum.join(', ')}.`);
    }
    return canonical;
  }
  if ('model' in type) return validateModel(type.model, value, path);
  if (!Array.isArray(value)) throw batchErrors.invalidBody(`Property '${path}' expects an array, not ${kind(value)}.`);
  if (type.maxItems !== undefined && value.length > type.maxItems) {
    throw batchErrors.invalidProperty(path, `${value.length} items`, `At most ${type.maxItems} items are allowed.`);
  }
  return value.map((item, i) => check(type.array, item, `${path}[${i}]`));
}

/**
 * Checks a JSON value against one of the API's request models and returns its normal form:
 * enums in the API's case, nulls dropped, legacy properties renamed. Unknown properties, wrong
 * types and missing required properties are the BatchErrors Azure answers with; a property Kiln
 * does not honour, given a value that asks for something, is UnsupportedProperty.
 */
export function validateModel(modelName: string, value: Json, path = ''): JsonObject {
  const model = own(MODELS, modelName);
  if (!model) throw new Error(`no request model ${modelName}`);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw batchErrors.invalidBody(`${path ? `Property '${path}'` : 'The request body'} expects an object of type ${modelName}, not ${kind(value)}.`);
  }
  const out: JsonObject = {};
  const legacy: [string, Json][] = [];
  for (const [name, raw] of Object.entries(value)) {
    if (raw === null) continue;
    // Own properties only: a key such as `constructor` or `__proto__` is an unknown property, like any other.
    const spec = own(model, name);
    const at = path ? `${path}.${name}` : name;
    // What Kiln does not honour is refused unless it asks for nothing (see ../unsupported.ts).
    const unsupported = unsupportedProperty(modelName, name);
    if (unsupported) {
      const checked = spec ? check(spec.t, raw, at) : raw;
      if (!asksNothing(unsupported, checked)) throw unsupportedPropertyError(at, unsupported.reason);
      if (spec) out[name] = checked;
      continue;
    }
    if (!spec) {
      const renamed = own(LEGACY, name)?.(raw, model);
      if (!renamed) {
        throw batchErrors.invalidBody(`The property '${at}' does not exist on type '${modelName}'. Make sure to only use property names that are defined by the type.`);
      }
      legacy.push(renamed);
      continue;
    }
    out[name] = check(spec.t, raw, at);
  }
  // A legacy property never overrides its current form.
  for (const [name, raw] of legacy) {
    if (!Object.hasOwn(out, name)) out[name] = check(model[name]!.t, raw, path ? `${path}.${name}` : name);
  }
  for (const [name, spec] of Object.entries(model)) {
    if (spec.required && !Object.hasOwn(out, name)) throw batchErrors.missingProperty(path ? `${path}.${name}` : name);
  }
  return out;
}
