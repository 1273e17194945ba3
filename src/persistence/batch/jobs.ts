import type { Db } from '../sqlite/database.js';
import type { CloudJob, StoredJob } from '../../domain/batch/models.js';
import { EntityTable } from './entityTable.js';
import { JOB_COLUMNS } from './indexedColumns.js';

/** batch_jobs: an account's jobs, with the pool they run on and the schedule that made them. */
export class JobTable extends EntityTable<CloudJob> {
  private readonly deleteQ;
  private readonly byPoolQ;
  private readonly timeLimitedQ;
  private readonly byIdQ;
  private readonly byPkQ;
  private readonly byUidQ;

  constructor(db: Db) {
    super(db, {
      table: 'batch_jobs',
      parent: 'account',
      hasPk: true,
      extra: { pool_id: JOB_COLUMNS.pool_id.read, schedule_pk: JOB_COLUMNS.schedule_pk.read },
    });
    this.deleteQ = db.prepare(`DELETE FROM batch_jobs WHERE pk = ?`);
    this.byIdQ = db.prepare(`SELECT pk, uid, doc FROM batch_jobs WHERE account = ? AND id_key = ?`);
    this.byPkQ = db.prepare(`SELECT pk, uid, doc FROM batch_jobs WHERE pk = ?`);
    this.byUidQ = db.prepare(`SELECT pk, uid, doc FROM batch_jobs WHERE uid = ? AND account = ?`);
    this.byPoolQ = db.prepare(`SELECT pk, uid, doc FROM batch_jobs WHERE account = ? AND pool_id = ?`);
    this.timeLimitedQ = db.prepare(
      `SELECT pk, uid, doc FROM batch_jobs WHERE account = ? AND state IN ('active', 'disabling', 'disabled')
       AND json_extract(doc, '$.constraints.maxWallClockTime') IS NOT NULL`,
    );
  }

  override get(account: string | number, id: string): StoredJob | undefined {
    return storedJob(this.byIdQ.get(account, id.toLowerCase()));
  }

  override getByPk(pk: number): StoredJob | undefined {
    return storedJob(this.byPkQ.get(pk));
  }

  getByUid(account: string, uid: string): StoredJob | undefined {
    return storedJob(this.byUidQ.get(uid, account));
  }

  /** Removes a job and, by cascade, its tasks. */
  deleteByPk(pk: number): void {
    this.deleteQ.run(pk);
  }

  /** Unfinished jobs with a maxWallClockTime constraint (the clock that ends them). */
  timeLimited(account: string): StoredJob[] {
    return this.timeLimitedQ.all(account).map((r) => storedJob(r)!);
  }

  /** The jobs that run on a pool (the scheduler's view of a pool). */
  onPool(account: string, poolId: string): StoredJob[] {
    return this.byPoolQ.all(account, poolId.toLowerCase()).map((r) => storedJob(r)!);
  }
}

const storedJob = (row: unknown): StoredJob | undefined => {
  const r = row as { pk: number; uid: string; doc: string } | undefined;
  return r && { pk: r.pk, uid: r.uid, doc: JSON.parse(r.doc) as CloudJob };
};
