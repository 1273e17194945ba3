import { COLUMNS, type CmpOp, type Column, type Condition } from '../../domain/batch/listQuery.js';

const SQL_OPS: Record<CmpOp, string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };
const KNOWN = new Set<string>(COLUMNS);
/** The list columns that are numbers (batchSchema.ts); every other one is text. */
const NUMERIC = new Set<Column>(['slots', 'schedule_pk']);

/**
 * The column's name as SQL text, checked against the port's Column union at run time too: values
 * travel as parameters, so nothing a client sent becomes SQL text.
 */
function column(name: Column): string {
  if (!KNOWN.has(name)) throw new Error(`not a list column: ${JSON.stringify(name)}`);
  return name;
}

/**
 * The column as ordered comparisons and prefixes must read it: text in byte (code-point) order, as
 * SQLite compares it, whatever the database's collation (only id_key is declared COLLATE "C"; an ICU
 * locale orders `a_1` before `a01`). Equality needs no such clause: a deterministic collation's
 * equality is the bytes', and without it the state indexes still serve `state = $n`.
 */
function ordered(name: Column): string {
  const col = column(name);
  return NUMERIC.has(name) || name === 'id_key' ? col : `${col} COLLATE "C"`;
}

/**
 * Compiles a list condition (domain/batch/listQuery.ts) to PostgreSQL with the meaning the port gives
 * it on NULL columns (two-valued, as persistence/batch/sqliteCondition.ts keeps it for SQLite).
 * Returns the SQL text; its values are appended to `params`, the query's parameters so far, whose
 * numbering the placeholders continue.
 */
export function postgresCondition(c: Condition, params: unknown[]): string {
  const bind = (value: string | number) => `$${params.push(value)}`;
  switch (c.kind) {
    case 'and':
    case 'or':
      // No terms: `and` always holds, `or` never does.
      if (c.terms.length === 0) return c.kind === 'and' ? 'TRUE' : 'FALSE';
      return c.terms.map((t) => `(${postgresCondition(t, params)})`).join(` ${c.kind.toUpperCase()} `);
    case 'not':
      // Not `NOT (...)`: SQL's NOT keeps unknown (a NULL compared) unknown and drops the row, where the port's `not` keeps it.
      return `(${postgresCondition(c.inner, params)}) IS NOT TRUE`;
    case 'prefix': {
      // A range, not LIKE: LIKE would read % and _ in the prefix. U+10FFFF is the greatest code point, its UTF-8 the greatest bytes.
      const col = ordered(c.column);
      return `${col} >= ${bind(c.prefix)} AND ${col} < ${bind(`${c.prefix}\u{10FFFF}`)}`;
    }
    case 'null':
      return `${column(c.column)} IS ${c.negated ? 'NOT ' : ''}NULL`;
    case 'cmp': {
      const col = c.op === 'eq' || c.op === 'ne' ? column(c.column) : ordered(c.column);
      const sql = `${col} ${SQL_OPS[c.op]} ${bind(c.value)}`;
      // SQL's <> is never true on NULL; the port's ne holds there.
      return c.op === 'ne' ? `(${sql} OR ${col} IS NULL)` : sql;
    }
  }
}
