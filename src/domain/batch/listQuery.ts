/**
 * The list port: a page of an entity table's rows, chosen by a condition over the table's indexed
 * columns. The condition is a syntax tree, not SQL, so that each store (SQLite, PostgreSQL) compiles
 * it to its own dialect and nothing a client sends reaches SQL text. The domain owns the port;
 * persistence implements it.
 */

/** The indexed columns lists may select on: those every entity table has, and the extras some have (tasks: result, slots; jobs: pool_id, schedule_pk). */
export const COLUMNS = ['id_key', 'id', 'state', 'creation_time', 'last_modified', 'state_transition_time', 'result', 'slots', 'pool_id', 'schedule_pk'] as const;
export type Column = (typeof COLUMNS)[number];

export type CmpOp = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';

/**
 * A condition on a row. Its meaning, which every store keeps:
 * - `cmp`: the column compared with a value; `ne` also holds where the column is NULL (a missing
 *   value is not equal to anything), the other operators never hold on NULL.
 * - `prefix`: the column's text starts with `prefix` (code-point order: the range [prefix, prefix + U+10FFFF)).
 * - `null`: the column is NULL (`negated`: is not).
 * - `and` / `or`: every term / some term holds; with no terms, `and` always holds and `or` never does.
 * - `not`: the inner condition does not hold. Two-valued, unlike SQL's NOT: a comparison on a NULL
 *   column does not hold, so its negation does (`not (pool_id eq 'p')` keeps the rows without a pool).
 */
export type Condition =
  | { kind: 'cmp'; column: Column; op: CmpOp; value: string | number }
  | { kind: 'prefix'; column: Column; prefix: string }
  | { kind: 'null'; column: Column; negated: boolean }
  | { kind: 'and' | 'or'; terms: Condition[] }
  | { kind: 'not'; inner: Condition };

/** A list query: a condition on the table's columns, the page's start (an id key, exclusive) and size. */
export interface ListQuery {
  where?: Condition;
  afterKey?: string;
  limit: number;
}

/** A row of a list page: the paging key and the stored JSON, not parsed (lists emit it as is). */
export interface RawRow {
  id_key: string;
  id: string;
  doc: string;
}

/** What lists page through (every EntityTable of store.ts is one): a page of a parent's rows in id-key order. */
export interface ListableTable {
  list(parent: string | number, query: ListQuery): Promise<RawRow[]>;
}
