import { batchErrors } from '../../../domain/batch/errors.js';
import type { Column, Condition } from '../../../domain/batch/listQuery.js';

/**
 * The OData $filter subset Batch clients use (shared/docs/batch-api.md §5): comparisons
 * `path op literal` with eq ne gt ge lt le, `startswith(path,'x')`, `and`, `or`, `not` and
 * parentheses. Literals: 'strings', integers, true/false, null and datetime'...'.
 */
export type Literal = string | number | boolean | null | { datetime: string };
export type Op = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
export type Filter =
  | { kind: 'cmp'; path: string; op: Op; value: Literal }
  | { kind: 'startswith'; path: string; prefix: string }
  | { kind: 'and' | 'or'; left: Filter; right: Filter }
  | { kind: 'not'; inner: Filter };

type Token = { t: 'word'; v: string } | { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'dt'; v: string } | { t: '(' | ')' | ',' };

function tokenize(text: string, fail: (reason: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      tokens.push({ t: c });
      i++;
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= text.length) fail('A string literal is not closed.');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += text[i++];
      }
      tokens.push({ t: 'str', v });
    } else if (/[-\d]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (!m) fail(`Unexpected '${c}'.`);
      tokens.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][\w$]*(\/[A-Za-z_$][\w$]*)*/.exec(text.slice(i))!;
      i += m[0].length;
      if (m[0].toLowerCase() === 'datetime' && text[i] === "'") {
        const end = text.indexOf("'", i + 1);
        if (end < 0) fail('A datetime literal is not closed.');
        tokens.push({ t: 'dt', v: text.slice(i + 1, end) });
        i = end + 1;
      } else {
        tokens.push({ t: 'word', v: m[0] });
      }
    } else {
      fail(`Unexpected '${c}'.`);
    }
  }
  return tokens;
}

const OPS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);

/**
 * How deep parentheses and `not` may nest. Each level is a stack frame of the parser and of the
 * evaluator: without a bound, a filter of nested parentheses overflows the stack.
 */
export const MAX_FILTER_DEPTH = 100;
/**
 * Past this many terms a filter is evaluated on the documents, not by the store: stores bound how
 * deep a condition may nest (SQLite's expression depth, 1000 by default), and and/or nest a level a term.
 */
export const MAX_STORE_TERMS = 200;

/** Parses a $filter; InvalidQueryParameterValue (400) with the reason when it is not one. */
export function parseFilter(text: string): Filter {
  const fail = (reason: string): never => {
    throw batchErrors.invalidQuery('$filter', text, reason);
  };
  const tokens = tokenize(text, fail);
  let pos = 0;
  const peekWord = (): string | undefined => {
    const tok = tokens[pos];
    return tok?.t === 'word' ? tok.v.toLowerCase() : undefined;
  };
  const expect = (t: '(' | ')' | ','): void => {
    if (tokens[pos]?.t !== t) fail(`Expected '${t}'.`);
    pos++;
  };
  const literal = (): Literal => {
    const tok = tokens[pos++];
    if (!tok) return fail('A value is missing.');
    if (tok.t === 'str' || tok.t === 'num') return tok.v;
    if (tok.t === 'dt') {
      if (Number.isNaN(Date.parse(tok.v))) fail(`'${tok.v}' is not a date-time.`);
      return { datetime: tok.v };
    }
    if (tok.t === 'word' && ['true', 'false', 'null'].includes(tok.v.toLowerCase())) {
      return tok.v.toLowerCase() === 'null' ? null : tok.v.toLowerCase() === 'true';
    }
    return fail('Expected a value.');
  };
  let depth = 0;
  const nested = <T>(parse: () => T): T => {
    if (++depth > MAX_FILTER_DEPTH) fail(`Parentheses and 'not' nest more than ${MAX_FILTER_DEPTH} deep.`);
    const result = parse();
    depth--;
    return result;
  };
  const primary = (): Filter => {
    const tok = tokens[pos];
    if (tok?.t === '(') {
      pos++;
      const inner = nested(or);
      expect(')');
      return inner;
    }
    if (tok?.t !== 'word') return fail('Expected a property name.');
    pos++;
    if (tok.v.toLowerCase() === 'not') return { kind: 'not', inner: nested(primary) };
    if (tok.v.toLowerCase() === 'startswith') {
      expect('(');
      const path = tokens[pos++];
      if (path?.t !== 'word') fail('startswith needs a property name.');
      expect(',');
      const prefix = tokens[pos++];
      if (prefix?.t !== 'str') fail('startswith needs a string.');
      expect(')');
      const f: Filter = { kind: 'startswith', path: (path as { v: string }).v, prefix: (prefix as { v: string }).v };
      // `startswith(id,'x') eq true` is the long form of the same.
      if (peekWord() === 'eq' || peekWord() === 'ne') {
        const op = peekWord();
        pos++;
        const v = literal();
        if (typeof v !== 'boolean') fail('startswith compares with true or false.');
        return (op === 'eq') === v ? f : { kind: 'not', inner: f };
      }
      return f;
    }
    const op = peekWord();
    if (!op || !OPS.has(op)) return fail(`Expected an operator (eq, ne, gt, ge, lt, le) after '${tok.v}'.`);
    pos++;
    return { kind: 'cmp', path: tok.v, op: op as Op, value: literal() };
  };
  const and = (): Filter => {
    let left = primary();
    while (peekWord() === 'and') {
      pos++;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): Filter => {
    let left = and();
    while (peekWord() === 'or') {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  const result = or();
  if (pos < tokens.length) fail('Unexpected text after the expression.');
  return result;
}

/** What a list lets clients filter on: property path → how to read it, and its store column if it has one. */
export interface FilterField {
  type: 'string' | 'id' | 'enum' | 'datetime' | 'number' | 'boolean';
  column?: Column;
}
export type FilterFields = Record<string, FilterField>;

/** The properties every stored entity filters on through its indexed columns. */
export const ENTITY_FIELDS: FilterFields = {
  id: { type: 'id', column: 'id_key' },
  state: { type: 'enum', column: 'state' },
  stateTransitionTime: { type: 'datetime', column: 'state_transition_time' },
  creationTime: { type: 'datetime', column: 'creation_time' },
  lastModified: { type: 'datetime', column: 'last_modified' },
};

function readPath(doc: Record<string, unknown>, path: string): unknown {
  let v: unknown = doc;
  for (const part of path.split('/')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** A literal in the form its field compares in: lower-cased ids and enums, ISO date-times. */
function normalise(field: FilterField, value: Literal, path: string, text: string): string | number | boolean | null {
  if (value === null) return null;
  if (field.type === 'datetime') {
    const s = typeof value === 'object' ? value.datetime : typeof value === 'string' ? value : undefined;
    const ms = s === undefined ? NaN : Date.parse(s);
    if (Number.isNaN(ms)) throw batchErrors.invalidQuery('$filter', text, `'${path}' compares with a date-time.`);
    return new Date(ms).toISOString();
  }
  if (typeof value === 'object') throw batchErrors.invalidQuery('$filter', text, `'${path}' does not compare with a date-time.`);
  if (field.type === 'number' && typeof value !== 'number') throw batchErrors.invalidQuery('$filter', text, `'${path}' compares with a number.`);
  if (field.type === 'boolean' && typeof value !== 'boolean') throw batchErrors.invalidQuery('$filter', text, `'${path}' compares with true or false.`);
  if ((field.type === 'id' || field.type === 'enum' || field.type === 'string') && typeof value !== 'string') {
    throw batchErrors.invalidQuery('$filter', text, `'${path}' compares with a string.`);
  }
  return typeof value === 'string' && field.type !== 'string' ? value.toLowerCase() : value;
}

function compare(a: unknown, op: Op, b: unknown): boolean {
  if (op === 'eq') return a === b;
  if (op === 'ne') return a !== b;
  if (a === undefined || a === null || b === null) return false;
  const x = a as string | number;
  const y = b as string | number;
  return op === 'gt' ? x > y : op === 'ge' ? x >= y : op === 'lt' ? x < y : x <= y;
}

/** A parsed filter bound to a list's fields: a predicate on documents, and a store condition when every field has a column. */
export interface CompiledFilter {
  matches(doc: Record<string, unknown>): boolean;
  where?: Condition;
}

export function compileFilter(text: string, fields: FilterFields): CompiledFilter {
  const ast = parseFilter(text);
  const fieldOf = (path: string): FilterField => {
    // Own properties only: `constructor` is no field of any list.
    const field = (Object.hasOwn(fields, path) ? fields[path] : undefined) ?? Object.entries(fields).find(([p]) => p.toLowerCase() === path.toLowerCase())?.[1];
    if (!field) throw batchErrors.invalidQuery('$filter', text, `The property '${path}' cannot be filtered on here.`);
    return field;
  };
  const canonicalPath = (path: string): string => Object.keys(fields).find((p) => p.toLowerCase() === path.toLowerCase()) ?? path;

  const build = (f: Filter): ((doc: Record<string, unknown>) => boolean) => {
    switch (f.kind) {
      case 'and': {
        const l = build(f.left),
          r = build(f.right);
        return (d) => l(d) && r(d);
      }
      case 'or': {
        const l = build(f.left),
          r = build(f.right);
        return (d) => l(d) || r(d);
      }
      case 'not': {
        const inner = build(f.inner);
        return (d) => !inner(d);
      }
      case 'startswith': {
        const field = fieldOf(f.path);
        const path = canonicalPath(f.path);
        const prefix = field.type === 'string' ? f.prefix : f.prefix.toLowerCase();
        return (d) => {
          const v = readPath(d, path);
          return typeof v === 'string' && (field.type === 'string' ? v : v.toLowerCase()).startsWith(prefix);
        };
      }
      case 'cmp': {
        const field = fieldOf(f.path);
        const path = canonicalPath(f.path);
        const want = normalise(field, f.value, f.path, text);
        return (d) => {
          let v = readPath(d, path);
          if (v === undefined) v = null;
          if (typeof v === 'string') v = field.type === 'datetime' ? new Date(v).toISOString() : field.type === 'string' ? v : v.toLowerCase();
          return compare(v, f.op, want);
        };
      }
    }
  };

  // The store's condition mirrors `build`: ids lower-cased as their column keeps them, date-times ISO.
  const toCondition = (f: Filter): Condition | undefined => {
    switch (f.kind) {
      case 'and':
      case 'or': {
        const l = toCondition(f.left),
          r = toCondition(f.right);
        return l && r ? { kind: f.kind, terms: [l, r] } : undefined;
      }
      case 'not': {
        const inner = toCondition(f.inner);
        return inner && { kind: 'not', inner };
      }
      case 'startswith': {
        // Only an id's column is lower-cased as the comparison is: other columns keep their case.
        const field = fieldOf(f.path);
        if (!field.column || field.type !== 'id') return undefined;
        return { kind: 'prefix', column: field.column, prefix: f.prefix.toLowerCase() };
      }
      case 'cmp': {
        const field = fieldOf(f.path);
        if (!field.column) return undefined;
        const want = normalise(field, f.value, f.path, text);
        if (want === null) {
          if (f.op === 'eq' || f.op === 'ne') return { kind: 'null', column: field.column, negated: f.op === 'ne' };
          // Nothing orders against null (`compare`): no term of an `or` is a condition no row meets.
          return { kind: 'or', terms: [] };
        }
        if (typeof want === 'boolean') return undefined;
        return { kind: 'cmp', column: field.column, op: f.op, value: want };
      }
    }
  };
  const terms = (f: Filter): number => (f.kind === 'and' || f.kind === 'or' ? terms(f.left) + terms(f.right) : f.kind === 'not' ? terms(f.inner) : 1);
  const matches = build(ast);
  return { matches, where: terms(ast) <= MAX_STORE_TERMS ? toCondition(ast) : undefined };
}
