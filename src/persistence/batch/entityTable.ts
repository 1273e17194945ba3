import type { Statement } from 'better-sqlite3';
import type { Db } from '../sqlite/database.js';
import type { EntityDoc, Stored } from '../../domain/batch/models.js';
import type { ListQuery, RawRow } from '../../domain/batch/store.js';
import { ENTITY_COLUMNS, entityValues } from './indexedColumns.js';
import { sqliteCondition } from './sqliteCondition.js';

export interface TableSpec<T extends EntityDoc> {
  table: string;
  /** The column that scopes ids: `account` for top-level entities, the parent's pk for children. */
  parent: string;
  /** Whether rows have an integer pk column of their own. */
  hasPk: boolean;
  /** Extra indexed columns and how to read them off a document. */
  extra?: Record<string, (doc: T) => string | number | null>;
}

/**
 * The statements every entity table shares: get, insert, update, delete and page through, one
 * prepared statement each. Callers group calls into transactions (BatchStore.tx).
 */
export class EntityTable<T extends EntityDoc> {
  private readonly extraNames: string[];
  private readonly extraReaders: ((doc: T) => string | number | null)[];
  private readonly q;

  constructor(
    private readonly db: Db,
    readonly spec: TableSpec<T>,
  ) {
    this.extraNames = Object.keys(spec.extra ?? {});
    this.extraReaders = Object.values(spec.extra ?? {});
    const { table, parent } = spec;
    const columns = [...ENTITY_COLUMNS, ...this.extraNames];
    const sets = columns
      .slice(1)
      .map((c) => `${c} = ?`)
      .join(', ');
    this.q = {
      get: db.prepare(`SELECT ${spec.hasPk ? 'pk' : '0 AS pk'}, doc FROM ${table} WHERE ${parent} = ? AND id_key = ?`),
      getByPk: spec.hasPk ? db.prepare(`SELECT pk, doc FROM ${table} WHERE pk = ?`) : undefined,
      insert: db.prepare(`INSERT INTO ${table} (${parent}, ${columns.join(', ')}) VALUES (?, ${columns.map(() => '?').join(', ')})`),
      update: db.prepare(`UPDATE ${table} SET ${sets} WHERE ${parent} = ? AND id_key = ?`),
      delete: db.prepare(`DELETE FROM ${table} WHERE ${parent} = ? AND id_key = ?`),
      exists: db.prepare(`SELECT 1 FROM ${table} WHERE ${parent} = ? AND id_key = ?`).pluck(),
      lastPk: db.prepare(`SELECT last_insert_rowid()`).pluck(),
    };
  }

  private values(doc: T): unknown[] {
    return [...entityValues(doc), ...this.extraReaders.map((read) => read(doc))];
  }

  get(parent: string | number, id: string): Stored<T> | undefined {
    const row = this.q.get.get(parent, id.toLowerCase()) as { pk: number; doc: string } | undefined;
    return row && { pk: row.pk, doc: JSON.parse(row.doc) as T };
  }

  getByPk(pk: number): Stored<T> | undefined {
    const row = this.q.getByPk?.get(pk) as { pk: number; doc: string } | undefined;
    return row && { pk: row.pk, doc: JSON.parse(row.doc) as T };
  }

  exists(parent: string | number, id: string): boolean {
    return this.q.exists.get(parent, id.toLowerCase()) !== undefined;
  }

  /** Inserts a new entity; returns its pk (0 for tables without one). */
  insert(parent: string | number, doc: T): number {
    const info = this.q.insert.run(parent, ...this.values(doc));
    return this.spec.hasPk ? Number(info.lastInsertRowid) : 0;
  }

  update(parent: string | number, doc: T): void {
    const values = this.values(doc);
    this.q.update.run(...values.slice(1), parent, values[0]);
  }

  delete(parent: string | number, id: string): void {
    this.q.delete.run(parent, id.toLowerCase());
  }

  /** One page in id order, past `afterKey`, the rows' JSON unparsed. */
  list(parent: string | number, query: ListQuery): RawRow[] {
    const condition = query.where && sqliteCondition(query.where);
    const where = condition ? ` AND (${condition.sql})` : '';
    const after = query.afterKey === undefined ? '' : ' AND id_key > ?';
    const sql = `SELECT id_key, id, doc FROM ${this.spec.table} WHERE ${this.spec.parent} = ?${after}${where} ORDER BY id_key LIMIT ?`;
    const params = [parent, ...(query.afterKey === undefined ? [] : [query.afterKey]), ...(condition?.params ?? []), query.limit];
    return this.statement(sql).all(...params) as RawRow[];
  }

  private readonly cache = new Map<string, Statement<unknown[]>>();

  /** Prepared statements for the lists' generated SQL, kept (filters repeat page after page). */
  statement(sql: string): Statement<unknown[]> {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      if (this.cache.size > 200) this.cache.clear();
      stmt = this.db.prepare<unknown[]>(sql);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }
}
