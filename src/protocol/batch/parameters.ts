import { batchErrors } from '../../domain/batch/errors.js';
import { BATCH_API_VERSIONS } from './apiVersions.js';
import { readExpand } from './odata/listing.js';
import type { BatchRequest, Conditions } from './request.js';

/**
 * The query parameters and headers of the Batch API's operations (the REST spec, 2022-10-01.16.0
 * that Kiln's models follow, and 2024-07-01.20.0), and what Kiln does with each. Every operation
 * takes `api-version` (required) and `timeout`, and the headers `client-request-id`,
 * `return-client-request-id` and `ocp-date`; routes.ts declares, next to each operation, the
 * others it takes (`takes(...)`). What a request sends beyond them:
 *
 * - a `$` parameter (an OData system query option: `$top`, `$orderby`, `$count`, or a `$filter`,
 *   `$select`, `$expand` of an operation that has none) or a parameter of the Batch API that this
 *   operation does not take, with a value: 400 UnsupportedQueryParameter, rather than an answer
 *   that silently did not apply it;
 * - any other parameter (a name no Batch API version has): ignored, as Azure's front ends ignore
 *   unknown query parameters (Kiln's choice: Azure documents nothing here);
 * - a conditional header the operation does not take: not evaluated (the spec gives the
 *   operation none, so Azure's answer does not depend on it).
 */
export type QueryParameter = '$filter' | '$select' | '$expand' | 'maxresults' | 'recursive' | 'force' | 'starttime' | 'endtime';
export type OptionalHeader = 'if-match' | 'if-none-match' | 'if-modified-since' | 'if-unmodified-since' | 'ocp-range';

export interface OperationParameters {
  query: ReadonlySet<string>;
  headers: ReadonlySet<OptionalHeader>;
}

/** An operation's parameters beyond the common ones; a list (one that takes maxresults) also takes its own paging token. */
export const takes = (query: readonly QueryParameter[] = [], headers: readonly OptionalHeader[] = []): OperationParameters => ({
  query: new Set([...query, ...(query.includes('maxresults') ? ['$skiptoken'] : [])]),
  headers: new Set(headers),
});

/** The four conditional headers of the operations on pools, jobs, job schedules and tasks. */
export const CONDITIONS: readonly OptionalHeader[] = ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];
/** What the file GET and HEAD operations take: the date conditions only (a file has no ETag). */
export const FILE_CONDITIONS: readonly OptionalHeader[] = ['if-modified-since', 'if-unmodified-since'];

/** Every query parameter name of the Batch API, lower-cased (any version). */
const BATCH_PARAMETERS = new Set(['api-version', 'timeout', '$skiptoken', '$filter', '$select', '$expand', 'maxresults', 'recursive', 'force', 'starttime', 'endtime']);

const boolean = (name: string, value: string): boolean => {
  const v = value.toLowerCase();
  if (v !== 'true' && v !== 'false') throw batchErrors.invalidQuery(name, value, 'The value must be true or false.');
  return v === 'true';
};

/**
 * What Kiln checks of each parameter's value here; $filter, $select, maxresults and $skiptoken are
 * read (and checked) by the handler that applies them (odata/listing.ts), which knows the fields and limits.
 */
const VALUE_RULES: Record<string, (req: BatchRequest, value: string) => void> = {
  // Azure: "If the value is larger than 30, the default will be used instead." Kiln answers every
  // request well within any timeout, so a valid one changes nothing.
  timeout: (_req, value) => {
    if (!/^\d+$/.test(value)) throw batchErrors.invalidQuery('timeout', value, 'The value must be a number of seconds.');
  },
  recursive: (_req, value) => void boolean('recursive', value),
  // 2023-11-01.18.0 and later: delete or terminate "even if the corresponding nodes have not fully
  // processed" it. Kiln waits for its nodes, always.
  force: (_req, value) => {
    if (boolean('force', value))
      throw batchErrors.unsupportedQuery('force', value, 'Kiln does not force a deletion or termination: it always waits for the nodes to stop the tasks.');
  },
  $expand: (req) => readExpand(req),
  starttime: (_req, value) => isoDate('starttime', value),
  endtime: (_req, value) => isoDate('endtime', value),
};

function isoDate(name: string, value: string): void {
  if (Number.isNaN(Date.parse(value))) throw batchErrors.invalidQuery(name, value, 'The value must be an ISO 8601 date-time.');
}

/**
 * Checks a routed request's query parameters and headers against its operation's, and reads the
 * conditional headers it takes (on `req.conditions`, for conditions.ts).
 */
export function checkParameters(req: BatchRequest, op: OperationParameters): void {
  for (const [name, value] of req.params) {
    if (name === 'api-version') continue;
    if (name === 'timeout' || op.query.has(name)) {
      VALUE_RULES[name]?.(req, value);
      continue;
    }
    if (value === '' || !(name.startsWith('$') || BATCH_PARAMETERS.has(name))) continue;
    throw batchErrors.unsupportedQuery(name, value, 'No Batch API version takes it on this operation.');
  }
  checkReturnClientRequestId(req);
  req.conditions = readConditions(req, op);
  if (op.headers.has('ocp-range')) req.range = readRange(req);
}

const API_VERSION = /^\d{4}-\d{2}-\d{2}(\.\d+\.\d+)?$/;

/**
 * api-version, which every operation requires (checked before the path is routed): one of the
 * Batch service's published versions (apiVersions.ts), as Azure answers no other.
 */
export function checkApiVersion(req: BatchRequest): void {
  const version = req.params.get('api-version');
  if (version === undefined) throw batchErrors.missingQuery('api-version');
  if (!API_VERSION.test(version)) throw batchErrors.invalidQuery('api-version', version, 'The value is not an API version such as 2022-10-01.16.0.');
  if (!BATCH_API_VERSIONS.has(version)) {
    throw batchErrors.invalidQuery('api-version', version, 'The Batch service has no such API version: Kiln takes the published ones, 2015-12-01.2.2 to 2025-06-01.');
  }
}

/** return-client-request-id: true or false (default false); whether the answer echoes client-request-id. */
function checkReturnClientRequestId(req: BatchRequest): void {
  const value = req.header('return-client-request-id');
  if (value !== undefined && !/^(true|false)$/i.test(value.trim())) throw batchErrors.invalidHeader('return-client-request-id', value);
}

/**
 * The client-request-id an answer echoes: only when return-client-request-id is true, as the
 * spec's response header says ("returned only if the return-client-request-id parameter was set to true").
 */
export function echoedClientRequestId(header: (name: string) => string | undefined): string | undefined {
  return header('return-client-request-id')?.trim().toLowerCase() === 'true' ? header('client-request-id') : undefined;
}

function readDate(req: BatchRequest, name: OptionalHeader): number | undefined {
  const value = req.header(name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw batchErrors.invalidHeader(name, value);
  return ms;
}

function readConditions(req: BatchRequest, op: OperationParameters): Conditions {
  const has = (name: OptionalHeader) => op.headers.has(name);
  return {
    ifMatch: has('if-match') ? req.header('if-match') : undefined,
    ifNoneMatch: has('if-none-match') ? req.header('if-none-match') : undefined,
    ifModifiedSince: has('if-modified-since') ? readDate(req, 'if-modified-since') : undefined,
    ifUnmodifiedSince: has('if-unmodified-since') ? readDate(req, 'if-unmodified-since') : undefined,
  };
}

const RANGE = /^bytes=(\d+)-(\d*)$/;

/** ocp-range: `bytes=start-end` or `bytes=start-` (the spec's format); any other is InvalidHeaderValue. */
function readRange(req: BatchRequest): { start: number; end?: number } | undefined {
  const value = req.header('ocp-range');
  if (value === undefined || value.trim() === '') return undefined;
  const m = RANGE.exec(value.trim());
  if (!m) throw batchErrors.invalidHeader('ocp-range', value);
  const start = Number(m[1]);
  const end = m[2] ? Number(m[2]) : undefined;
  if (end !== undefined && end < start) throw batchErrors.invalidHeader('ocp-range', value);
  return { start, end };
}
