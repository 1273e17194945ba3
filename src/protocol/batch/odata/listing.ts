import type { Condition, ListableTable, RawRow } from '../../../domain/batch/listQuery.js';
import type { EntityDoc } from '../../../domain/batch/models.js';
import { batchErrors } from '../../../domain/batch/errors.js';
import type { BatchRequest } from '../request.js';
import { compileFilter, type CompiledFilter, type FilterFields } from './filter.js';

export const MAX_RESULTS = 1000;

/** maxresults: 1..max (default max); InvalidQueryParameterValue otherwise. */
export function readMaxResults(req: BatchRequest, max = MAX_RESULTS): number {
  const text = req.params.get('maxresults');
  if (text === undefined) return max;
  if (!/^\d+$/.test(text)) throw batchErrors.invalidQuery('maxresults', text, 'The value must be an integer.');
  const n = Number(text);
  if (n < 1 || n > max) throw batchErrors.outOfRangeQuery('maxresults', text, `The value must be between 1 and ${max}.`);
  return n;
}

/** $select: top-level property names; undefined for all of them. */
export function readSelect(req: BatchRequest): Set<string> | undefined {
  const text = req.params.get('$select');
  if (text === undefined || text.trim() === '') return undefined;
  const names = text.split(',').map((s) => s.trim());
  if (names.some((n) => !/^[A-Za-z][\w/]*$/.test(n))) throw batchErrors.invalidQuery('$select', text, 'Name top-level properties, separated by commas.');
  return new Set(names.map((n) => n.split('/')[0]!));
}

/**
 * $expand: the API knows only `stats` (pools, jobs, job schedules, tasks). Kiln keeps no usage
 * statistics, so asking for them is refused rather than answered without them; anything else is
 * not a value the API has.
 */
export function readExpand(req: BatchRequest): void {
  const text = req.params.get('$expand');
  if (text === undefined || text.trim() === '') return;
  for (const name of text.split(',').map((s) => s.trim())) {
    if (name.toLowerCase() !== 'stats') throw batchErrors.invalidQuery('$expand', text, 'Only stats can be expanded.');
  }
  throw batchErrors.unsupportedQuery('$expand', text, 'Kiln keeps no usage statistics (stats); leave $expand out.');
}

export function readFilter(req: BatchRequest, fields: FilterFields): CompiledFilter | undefined {
  const text = req.params.get('$filter');
  return text === undefined || text.trim() === '' ? undefined : compileFilter(text, fields);
}

/** The paging token: where the previous page stopped (an id key), base64url so it signs cleanly. */
const encodeToken = (key: string): string => Buffer.from(key, 'utf8').toString('base64url');
function readToken(req: BatchRequest): string | undefined {
  const token = req.params.get('$skiptoken');
  if (token === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw batchErrors.invalidQuery('$skiptoken', token, 'The token is not one this service issued.');
  return Buffer.from(token, 'base64url').toString('utf8');
}

/** The absolute, self-contained link to the next page: every original parameter, and the token. */
export function nextLink(req: BatchRequest, key: string): string {
  const parts = req.query.filter(([name]) => name.toLowerCase() !== '$skiptoken').map(([n, v]) => `${n}=${encodeURIComponent(v)}`);
  parts.push(`$skiptoken=${encodeToken(key)}`);
  return `${req.baseUrl}${req.rawPath}?${parts.join('&')}`;
}

/**
 * Renders a stored document as the API answers it: `url` first, internal `_` properties left
 * out, only the $select-ed properties if asked. Without $select (the common case) the stored JSON
 * is spliced, not parsed: that is what makes listing 100,000 tasks cheap.
 */
export function render(doc: string, url: string, select?: Set<string>): string {
  if (!select && !doc.includes('"_')) return `{"url":${JSON.stringify(url)},${doc.slice(1)}`;
  const parsed = JSON.parse(doc) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (!select || select.has('url')) out['url'] = url;
  for (const [k, v] of Object.entries(parsed)) {
    if (k.startsWith('_')) continue;
    if (!select || select.has(k)) out[k] = v;
  }
  return JSON.stringify(out);
}

/** The $select-ed top-level properties of an item that has no URL (a list computed in memory); all without $select. */
export function selected(item: Record<string, unknown>, select?: Set<string>): Record<string, unknown> {
  if (!select) return item;
  return Object.fromEntries(Object.entries(item).filter(([k]) => select.has(k)));
}

/** Renders a parsed document (gets, and lists computed in memory). */
export const renderDoc = (doc: EntityDoc | Record<string, unknown>, url: string, select?: Set<string>): string => render(JSON.stringify(doc), url, select);

/**
 * One page of a table's rows for a list request: filter, paging token, maxresults. The store
 * selects by the filter when it can (every field has a column); otherwise the documents are read
 * page by page and filtered here. `extraWhere` is the list's own scope (a schedule's jobs).
 */
export async function pageOf(
  table: ListableTable,
  parent: string | number,
  req: BatchRequest,
  fields: FilterFields,
  extraWhere?: Condition,
): Promise<{ rows: RawRow[]; next?: string }> {
  const max = readMaxResults(req);
  const filter = readFilter(req, fields);
  const afterKey = readToken(req);
  let rows: RawRow[];
  if (!filter || filter.where) {
    const where = extraWhere && filter?.where ? { kind: 'and' as const, terms: [extraWhere, filter.where] } : (extraWhere ?? filter?.where);
    rows = await table.list(parent, { where, afterKey, limit: max + 1 });
  } else {
    rows = [];
    let cursor = afterKey;
    for (;;) {
      const chunk = await table.list(parent, { where: extraWhere, afterKey: cursor, limit: 1000 });
      for (const row of chunk) {
        if (filter.matches(JSON.parse(row.doc) as Record<string, unknown>)) rows.push(row);
        if (rows.length > max) break;
      }
      if (rows.length > max || chunk.length < 1000) break;
      cursor = chunk[chunk.length - 1]!.id_key;
    }
  }
  if (rows.length <= max) return { rows };
  rows = rows.slice(0, max);
  return { rows, next: rows[max - 1]!.id_key };
}

/** A list answer's body, built as a string from rendered items. */
export function listBody(metadata: string, items: string[], next?: string): string {
  return `{"odata.metadata":${JSON.stringify(metadata)},"value":[${items.join(',')}]${next ? `,"odata.nextLink":${JSON.stringify(next)}` : ''}}`;
}

/** Pages an in-memory list (images, node counts, files): filter on documents, token = index. */
export function pageInMemory<T extends Record<string, unknown>>(
  req: BatchRequest,
  items: T[],
  fields: FilterFields,
  key: (item: T) => string,
  max = MAX_RESULTS,
): { items: T[]; next?: string } {
  const limit = readMaxResults(req, max);
  const filter = readFilter(req, fields);
  const afterKey = readToken(req);
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const matching = sorted.filter((item) => (afterKey === undefined || key(item) > afterKey) && (!filter || filter.matches(item)));
  if (matching.length <= limit) return { items: matching };
  const page = matching.slice(0, limit);
  return { items: page, next: key(page[limit - 1]!) };
}
