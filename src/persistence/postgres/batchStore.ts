import type { CloudJob, CloudJobSchedule, CloudPool, CloudTask, ComputeNode, Stored, StoredJob, TaskState } from '../../domain/batch/models.js';
import type { BatchStore, DependencyRow, JobTable, NodeTable, Parent, PoolTable, TaskCounts, TaskTable } from '../../domain/batch/store.js';
import { JOB_COLUMNS, TASK_COLUMNS, tallyTaskCounts } from '../batch/indexedColumns.js';
import { PgEntityTable, toStored, type DocRow } from './batchEntityTable.js';
import { PostgresUnitOfWork } from './batchUnitOfWork.js';
import type { PostgresDatabase } from './database.js';

class PgPoolTable extends PgEntityTable<CloudPool> implements PoolTable {
  constructor(work: PostgresUnitOfWork) {
    super(work, { table: 'batch_pools', parent: 'account', hasPk: true });
  }

  async all(account: string): Promise<Stored<CloudPool>[]> {
    const rows = await this.read((q) => q.query<DocRow>('SELECT pk, doc FROM batch_pools WHERE account = $1 ORDER BY id_key', [account]));
    return rows.map((r) => toStored<CloudPool>(r));
  }
}

class PgNodeTable extends PgEntityTable<ComputeNode> implements NodeTable {
  constructor(work: PostgresUnitOfWork) {
    super(work, { table: 'batch_nodes', parent: 'pool_pk', hasPk: false });
  }

  async count(poolPk: number): Promise<number> {
    const [row] = await this.read((q) => q.query<{ n: number }>('SELECT count(*) AS n FROM batch_nodes WHERE pool_pk = $1', [poolPk]));
    return row!.n;
  }

  /** dedicated is 1, 0 or NULL (no isDedicated), as SQLite's json_extract of true, false or nothing. */
  countByState(poolPk: number): Promise<{ state: string; dedicated: number; n: number }[]> {
    return this.read((q) =>
      q.query(`SELECT state, (doc::jsonb -> 'isDedicated' = 'true'::jsonb)::int AS dedicated, count(*) AS n FROM batch_nodes WHERE pool_pk = $1 GROUP BY 1, 2`, [poolPk]),
    );
  }
}

type JobRow = DocRow & { uid: string };
const toStoredJob = (row: JobRow): StoredJob => ({ pk: row.pk, uid: row.uid, doc: JSON.parse(row.doc) as CloudJob });

class PgJobTable extends PgEntityTable<CloudJob> implements JobTable {
  constructor(work: PostgresUnitOfWork) {
    super(work, { table: 'batch_jobs', parent: 'account', hasPk: true, extra: JOB_COLUMNS });
  }

  private async one(where: string, params: unknown[]): Promise<StoredJob | undefined> {
    const [row] = await this.read((q) => q.query<JobRow>(`SELECT pk, uid, doc FROM batch_jobs WHERE ${where}`, params));
    return row && toStoredJob(row);
  }

  override get(account: Parent, id: string): Promise<StoredJob | undefined> {
    return this.one('account = $1 AND id_key = $2', [account, id.toLowerCase()]);
  }

  override getByPk(pk: number): Promise<StoredJob | undefined> {
    return this.one('pk = $1', [pk]);
  }

  getByUid(account: string, uid: string): Promise<StoredJob | undefined> {
    return this.one('uid = $1 AND account = $2', [uid, account]);
  }

  /** Removes a job and, by cascade, its tasks. */
  async deleteByPk(pk: number): Promise<void> {
    await this.write((q) => q.execute('DELETE FROM batch_jobs WHERE pk = $1', [pk]));
  }

  async timeLimited(account: string): Promise<StoredJob[]> {
    const sql = `SELECT pk, uid, doc FROM batch_jobs WHERE account = $1 AND state IN ('active', 'disabling', 'disabled')
      AND doc::jsonb #>> '{constraints,maxWallClockTime}' IS NOT NULL ORDER BY pk`;
    return (await this.read((q) => q.query<JobRow>(sql, [account]))).map(toStoredJob);
  }

  async onPool(account: string, poolId: string): Promise<StoredJob[]> {
    const rows = await this.read((q) => q.query<JobRow>('SELECT pk, uid, doc FROM batch_jobs WHERE account = $1 AND pool_id = $2 ORDER BY pk', [account, poolId.toLowerCase()]));
    return rows.map(toStoredJob);
  }
}

const SQL = {
  counts: 'SELECT state, result, count(*) AS n, sum(slots) AS slots FROM batch_tasks WHERE job_pk = $1 GROUP BY state, result',
  unfinished: `SELECT 1 FROM batch_tasks WHERE job_pk = $1 AND state IN ('active', 'preparing', 'running') LIMIT 1`,
  inStates: 'SELECT doc FROM batch_tasks WHERE job_pk = $1 AND state = ANY($2::text[]) ORDER BY id_key',
  active: `SELECT id_key, doc FROM batch_tasks WHERE job_pk = $1 AND state = 'active' AND id_key > $2 ORDER BY id_key LIMIT $3`,
  withIds: 'SELECT id_key AS key, state, result, doc FROM batch_tasks WHERE job_pk = $1 AND id_key = ANY($2::text[])',
  // Ids that are a number as a range names it ('7', not '07'; at most 10 digits: ranges are Int32), as
  // persistence/batch/tasks.ts finds them: a range scan of the primary key over ids that start with a
  // digit. The CASE casts only ids that are such numbers (PostgreSQL may test the conditions in any order).
  withNumberIdsIn: `SELECT n, state, result, doc FROM (
      SELECT CASE WHEN id_key ~ '^(0|[1-9][0-9]{0,9})$' THEN id_key::bigint END AS n, state, result, doc
      FROM batch_tasks WHERE job_pk = $1 AND id_key >= '0' AND id_key < ':'
    ) AS numbered WHERE n BETWEEN $2 AND $3 ORDER BY n`,
};

class PgTaskTable extends PgEntityTable<CloudTask> implements TaskTable {
  constructor(work: PostgresUnitOfWork) {
    super(work, { table: 'batch_tasks', parent: 'job_pk', hasPk: false, extra: TASK_COLUMNS });
  }

  async counts(jobPk: number): Promise<{ taskCounts: TaskCounts; taskSlotCounts: TaskCounts }> {
    return tallyTaskCounts(await this.read((q) => q.query<{ state: TaskState; result: string | null; n: number; slots: number | null }>(SQL.counts, [jobPk])));
  }

  async hasUnfinished(jobPk: number): Promise<boolean> {
    return (await this.read((q) => q.query(SQL.unfinished, [jobPk]))).length > 0;
  }

  async inStates(jobPk: number, states: TaskState[]): Promise<CloudTask[]> {
    return (await this.read((q) => q.query<{ doc: string }>(SQL.inStates, [jobPk, states]))).map((r) => JSON.parse(r.doc) as CloudTask);
  }

  async active(jobPk: number, afterKey: string, limit: number): Promise<{ key: string; doc: CloudTask }[]> {
    const rows = await this.read((q) => q.query<{ id_key: string; doc: string }>(SQL.active, [jobPk, afterKey, limit]));
    return rows.map((r) => ({ key: r.id_key, doc: JSON.parse(r.doc) as CloudTask }));
  }

  withIds(jobPk: number, ids: string[]): Promise<(DependencyRow & { key: string })[]> {
    return this.read((q) => q.query(SQL.withIds, [jobPk, ids.map((id) => id.toLowerCase())]));
  }

  withNumberIdsIn(jobPk: number, start: number, end: number): Promise<(DependencyRow & { n: number })[]> {
    return this.read((q) => q.query(SQL.withNumberIdsIn, [jobPk, start, end]));
  }

  addAll(jobPk: number, docs: CloudTask[]): Promise<void> {
    return this.insertMany(jobPk, docs);
  }
}

/**
 * The Batch store on PostgreSQL (batchSchema.ts's tables), shared by every Kiln server on the
 * database: the SQLite store's semantics table for table (persistence/batch/*.ts), with units of
 * work that run one at a time across all of those servers (batchUnitOfWork.ts says how and why).
 */
export function postgresBatchStore(db: PostgresDatabase): BatchStore {
  const work = new PostgresUnitOfWork(db);
  return {
    pools: new PgPoolTable(work),
    nodes: new PgNodeTable(work),
    jobs: new PgJobTable(work),
    tasks: new PgTaskTable(work),
    jobSchedules: new PgEntityTable<CloudJobSchedule>(work, { table: 'batch_job_schedules', parent: 'account', hasPk: true }),
    tx: (fn) => work.tx(fn),
    afterCommit: (fn) => work.afterCommit(fn),
  };
}
