import type { EntityDoc, Stored } from '../../domain/batch/models.js';
import type { EntityTable, ListQuery, Parent, RawRow } from '../../domain/batch/store.js';
import { ENTITY_COLUMNS, entityValues, type ExtraColumn } from '../batch/indexedColumns.js';
import type { PostgresUnitOfWork } from './batchUnitOfWork.js';
import type { Queryable } from './database.js';
import { postgresCondition } from './postgresCondition.js';

export interface PgTableSpec<T extends EntityDoc> {
  table: string;
  /** The column that scopes ids: `account` for top-level entities, the parent's pk for children. */
  parent: string;
  /** Whether rows have a pk column of their own (a BIGINT identity). */
  hasPk: boolean;
  extra?: Record<string, ExtraColumn<T>>;
}

export type DocRow = { pk: number; doc: string };

/** A stored row's pk and parsed document. */
export const toStored = <T extends EntityDoc>(row: DocRow): Stored<T> => ({ pk: row.pk, doc: JSON.parse(row.doc) as T });

/**
 * One Batch entity table on PostgreSQL (batchSchema.ts), with the SQLite table's meaning
 * (persistence/batch/entityTable.ts): ids found without case through id_key, lists paged by id_key
 * in byte order. Each call runs in the caller's unit of work when there is one; a write outside any
 * becomes a unit of work of its own, so that it too waits for the one in progress (batchUnitOfWork.ts).
 */
export class PgEntityTable<T extends EntityDoc> implements EntityTable<T> {
  private readonly columns: string[];
  private readonly extras: ExtraColumn<T>[];
  private readonly sql;

  constructor(
    protected readonly work: PostgresUnitOfWork,
    readonly spec: PgTableSpec<T>,
  ) {
    this.extras = Object.values(spec.extra ?? {});
    this.columns = [...ENTITY_COLUMNS, ...Object.keys(spec.extra ?? {})];
    const { table, parent } = spec;
    const pk = spec.hasPk ? 'pk' : '0 AS pk';
    // $1 the parent, then the columns in order; an update's WHERE names the parent and id_key.
    const sets = this.columns.slice(1).map((c, i) => `${c} = $${i + 3}`);
    this.sql = {
      get: `SELECT ${pk}, doc FROM ${table} WHERE ${parent} = $1 AND id_key = $2`,
      getByPk: `SELECT pk, doc FROM ${table} WHERE pk = $1`,
      exists: `SELECT 1 FROM ${table} WHERE ${parent} = $1 AND id_key = $2`,
      insert: `INSERT INTO ${table} (${parent}, ${this.columns.join(', ')}) VALUES ($1, ${this.columns.map((_, i) => `$${i + 2}`).join(', ')}) RETURNING ${pk}`,
      // Every row in one statement, one array per column.
      insertMany: `INSERT INTO ${table} (${parent}, ${this.columns.join(', ')})
        SELECT $1, * FROM unnest(${[...ENTITY_COLUMNS.map(() => 'text'), ...this.extras.map((e) => e.type)].map((type, i) => `$${i + 2}::${type}[]`).join(', ')})`,
      update: `UPDATE ${table} SET ${sets.join(', ')} WHERE ${parent} = $1 AND id_key = $2`,
      delete: `DELETE FROM ${table} WHERE ${parent} = $1 AND id_key = $2`,
    };
  }

  /** Runs a read on the unit of work's connection, or the pool. */
  protected read<R>(op: (q: Queryable) => Promise<R>): Promise<R> {
    return op(this.work.on());
  }

  /** Runs a write in the unit of work in progress, or in one of its own. */
  protected write<R>(op: (q: Queryable) => Promise<R>): Promise<R> {
    return this.work.inside() ? op(this.work.on()) : this.work.tx(() => op(this.work.on()));
  }

  private values(doc: T): (string | number | null)[] {
    return [...entityValues(doc), ...this.extras.map((e) => e.read(doc))];
  }

  async get(parent: Parent, id: string): Promise<Stored<T> | undefined> {
    const [row] = await this.read((q) => q.query<DocRow>(this.sql.get, [parent, id.toLowerCase()]));
    return row && toStored<T>(row);
  }

  async getByPk(pk: number): Promise<Stored<T> | undefined> {
    const [row] = await this.read((q) => q.query<DocRow>(this.sql.getByPk, [pk]));
    return row && toStored<T>(row);
  }

  async exists(parent: Parent, id: string): Promise<boolean> {
    return (await this.read((q) => q.query(this.sql.exists, [parent, id.toLowerCase()]))).length > 0;
  }

  async insert(parent: Parent, doc: T): Promise<number> {
    const [row] = await this.write((q) => q.query<{ pk: number }>(this.sql.insert, [parent, ...this.values(doc)]));
    return row!.pk;
  }

  /** Inserts many rows in one statement. */
  async insertMany(parent: Parent, docs: T[]): Promise<void> {
    if (docs.length === 0) return;
    const rows = docs.map((doc) => this.values(doc));
    const columns = this.columns.map((_, i) => rows.map((row) => row[i]));
    await this.write((q) => q.execute(this.sql.insertMany, [parent, ...columns]));
  }

  async update(parent: Parent, doc: T): Promise<void> {
    const [idKey, ...rest] = this.values(doc);
    await this.write((q) => q.execute(this.sql.update, [parent, idKey, ...rest]));
  }

  async delete(parent: Parent, id: string): Promise<void> {
    await this.write((q) => q.execute(this.sql.delete, [parent, id.toLowerCase()]));
  }

  /** One page in id_key order (byte order: the column is COLLATE "C"), past `afterKey`, the rows' JSON unparsed. */
  list(parent: Parent, query: ListQuery): Promise<RawRow[]> {
    const params: unknown[] = [parent];
    const after = query.afterKey === undefined ? '' : ` AND id_key > $${params.push(query.afterKey)}`;
    const where = query.where ? ` AND (${postgresCondition(query.where, params)})` : '';
    const sql = `SELECT id_key, id, doc FROM ${this.spec.table} WHERE ${this.spec.parent} = $1${after}${where} ORDER BY id_key LIMIT $${params.push(query.limit)}`;
    return this.read((q) => q.query<RawRow>(sql, params));
  }
}
