import type { Db } from '../sqlite/database.js';
import type { CloudPool } from '../../domain/batch/models.js';
import { EntityTable } from './entityTable.js';

/** batch_pools: an account's pools, by case-insensitive id. */
export class PoolTable extends EntityTable<CloudPool> {
  private readonly listAll;

  constructor(db: Db) {
    super(db, { table: 'batch_pools', parent: 'account', hasPk: true });
    this.listAll = db.prepare(`SELECT pk, doc FROM batch_pools WHERE account = ? ORDER BY id_key`);
  }

  /** Every pool of an account (node counts and usage cover all of them). */
  all(account: string): { pk: number; doc: CloudPool }[] {
    return (this.listAll.all(account) as { pk: number; doc: string }[]).map((r) => ({ pk: r.pk, doc: JSON.parse(r.doc) as CloudPool }));
  }
}
