import { COLUMNS, type CmpOp, type Column, type Condition } from '../../domain/batch/listQuery.js';

/** A condition as SQLite text with `?` placeholders, and their values in order. */
export interface SqlCondition {
  sql: string;
  params: (string | number)[];
}

const SQL_OPS: Record<CmpOp, string> = { eq: '=', ne: '!=', gt: '>', ge: '>=', lt: '<', le: '<=' };
const KNOWN = new Set<string>(COLUMNS);

/**
 * The column's name as SQL text. Only names of the port's Column union ever get here, and this
 * checks so at run time too: values travel as parameters, so nothing a client sent becomes SQL text.
 */
function column(name: Column): string {
  if (!KNOWN.has(name)) throw new Error(`not a list column: ${JSON.stringify(name)}`);
  return name;
}

/** Compiles a list condition (domain/batch/listQuery.ts) to SQLite, keeping its two-valued meaning on NULL columns. */
export function sqliteCondition(c: Condition): SqlCondition {
  switch (c.kind) {
    case 'and':
    case 'or': {
      // No terms: `and` always holds, `or` never does.
      if (c.terms.length === 0) return { sql: c.kind === 'and' ? '1' : '0', params: [] };
      const terms = c.terms.map(sqliteCondition);
      return { sql: terms.map((t) => `(${t.sql})`).join(` ${c.kind.toUpperCase()} `), params: terms.flatMap((t) => t.params) };
    }
    case 'not': {
      // Not `NOT (...)`: SQL's NOT keeps NULL (unknown) NULL, so `NOT (pool_id = ?)` would drop the
      // rows without a pool, where the port's `not` (and the documents' filter) keeps them.
      const inner = sqliteCondition(c.inner);
      return { sql: `(${inner.sql}) IS NOT TRUE`, params: inner.params };
    }
    case 'prefix': {
      // A range, not LIKE: it uses the column's index, and LIKE would read % and _ in the prefix.
      const col = column(c.column);
      return { sql: `${col} >= ? AND ${col} < ?`, params: [c.prefix, `${c.prefix}\u{10FFFF}`] };
    }
    case 'null':
      return { sql: `${column(c.column)} IS ${c.negated ? 'NOT ' : ''}NULL`, params: [] };
    case 'cmp': {
      const col = column(c.column);
      const sql = `${col} ${SQL_OPS[c.op]} ?`;
      // SQL's != is never true on NULL; the port's ne holds there.
      return c.op === 'ne' ? { sql: `(${sql} OR ${col} IS NULL)`, params: [c.value] } : { sql, params: [c.value] };
    }
  }
}
