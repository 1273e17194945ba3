import type { Db } from '../sqlite/database.js';
import type { CloudJob } from '../../domain/batch/models.js';
import { EntityTable } from './entityTable.js';
import { JOB_COLUMNS } from './indexedColumns.js';

/** batch_jobs: an account's jobs, with the pool they run on and the schedule that made them. */
export class JobTable extends EntityTable<CloudJob> {
  private readonly deleteQ;
  private readonly byPoolQ;
  private readonly timeLimitedQ;

  constructor(db: Db) {
    super(db, {
      table: 'batch_jobs',
      parent: 'account',
      hasPk: true,
      extra: { pool_id: JOB_COLUMNS.pool_id.read, schedule_pk: JOB_COLUMNS.schedule_pk.read },
    });
    this.deleteQ = db.prepare(`DELETE FROM batch_jobs WHERE pk = ?`);
    this.byPoolQ = db.prepare(`SELECT pk, doc FROM batch_jobs WHERE account = ? AND pool_id = ?`);
    this.timeLimitedQ = db.prepare(
      `SELECT pk, doc FROM batch_jobs WHERE account = ? AND state IN ('active', 'disabling', 'disabled')
       AND json_extract(doc, '$.constraints.maxWallClockTime') IS NOT NULL`,
    );
  }

  /** Removes a job and, by cascade, its tasks. */
  deleteByPk(pk: number): void {
    this.deleteQ.run(pk);
  }

  /** Unfinished jobs with a maxWallClockTime constraint (the clock that ends them). */
  timeLimited(account: string): { pk: number; doc: CloudJob }[] {
    return (this.timeLimitedQ.all(account) as { pk: number; doc: string }[]).map((r) => ({ pk: r.pk, doc: JSON.parse(r.doc) as CloudJob }));
  }

  /** The jobs that run on a pool (the scheduler's view of a pool). */
  onPool(account: string, poolId: string): { pk: number; doc: CloudJob }[] {
    return (this.byPoolQ.all(account, poolId.toLowerCase()) as { pk: number; doc: string }[]).map((r) => ({ pk: r.pk, doc: JSON.parse(r.doc) as CloudJob }));
  }
}
