import type { Db } from '../sqlite/database.js';
import type { CloudTask, TaskState } from '../../domain/batch/models.js';
import type { DependencyRow, TaskCounts } from '../../domain/batch/store.js';
import { EntityTable } from './entityTable.js';
import { TASK_COLUMNS, tallyTaskCounts } from './indexedColumns.js';

/** batch_tasks: a job's tasks, by case-insensitive id, indexed by state for lists and the scheduler. */
export class TaskTable extends EntityTable<CloudTask> {
  private readonly countsQ;
  private readonly unfinishedQ;
  private readonly inStatesQ;
  private readonly insertMany;
  private readonly activeQ;
  private readonly byIdsQ;
  private readonly byNumberQ;

  constructor(db: Db) {
    super(db, {
      table: 'batch_tasks',
      parent: 'job_pk',
      hasPk: false,
      extra: { result: TASK_COLUMNS.result.read, slots: TASK_COLUMNS.slots.read },
    });
    this.countsQ = db.prepare(`SELECT state, result, count(*) AS n, sum(slots) AS slots FROM batch_tasks WHERE job_pk = ? GROUP BY state, result`);
    this.unfinishedQ = db.prepare(`SELECT 1 FROM batch_tasks WHERE job_pk = ? AND state IN ('active', 'preparing', 'running') LIMIT 1`).pluck();
    this.inStatesQ = db.prepare(`SELECT 0 AS pk, doc FROM batch_tasks WHERE job_pk = ? AND state IN (SELECT value FROM json_each(?))`);
    // INDEXED BY: without statistics SQLite would walk the primary key past every finished task.
    this.activeQ = db.prepare(`SELECT id_key, doc FROM batch_tasks INDEXED BY batch_tasks_by_state WHERE job_pk = ? AND state = 'active' AND id_key > ? ORDER BY id_key LIMIT ?`);
    this.byIdsQ = db.prepare(`SELECT id_key AS key, state, result, doc FROM batch_tasks WHERE job_pk = ? AND id_key IN (SELECT value FROM json_each(?))`);
    // Ids that are a number as a range names it ('7', not '07'; at most 10 digits: ranges are Int32),
    // found by a range scan of the primary key over ids that start with a digit.
    this.byNumberQ = db.prepare(
      `SELECT CAST(id_key AS INTEGER) AS n, state, result, doc FROM batch_tasks
       WHERE job_pk = ? AND id_key >= '0' AND id_key < ':' AND length(id_key) <= 10 AND id_key NOT GLOB '*[^0-9]*'
         AND (id_key = '0' OR id_key NOT GLOB '0*') AND CAST(id_key AS INTEGER) BETWEEN ? AND ? ORDER BY n`,
    );
    this.insertMany = db.transaction((jobPk: number, docs: CloudTask[]) => {
      for (const doc of docs) this.insert(jobPk, doc);
    });
  }

  /** Task counts and slot counts, as GET /jobs/{id}/taskcounts reports them. */
  counts(jobPk: number): { taskCounts: TaskCounts; taskSlotCounts: TaskCounts } {
    return tallyTaskCounts(this.countsQ.all(jobPk) as { state: TaskState; result: string | null; n: number; slots: number | null }[]);
  }

  /** Whether any task of the job is still to finish (active, preparing or running). */
  hasUnfinished(jobPk: number): boolean {
    return this.unfinishedQ.get(jobPk) !== undefined;
  }

  /** The job's tasks in the given states, parsed (for transitions that touch many tasks). */
  inStates(jobPk: number, states: TaskState[]): CloudTask[] {
    return (this.inStatesQ.all(jobPk, JSON.stringify(states)) as { doc: string }[]).map((r) => JSON.parse(r.doc) as CloudTask);
  }

  /** The scheduler's queue: a job's active tasks in id order, past `afterKey`. */
  active(jobPk: number, afterKey: string, limit: number): { key: string; doc: CloudTask }[] {
    return (this.activeQ.all(jobPk, afterKey, limit) as { id_key: string; doc: string }[]).map((r) => ({ key: r.id_key, doc: JSON.parse(r.doc) as CloudTask }));
  }

  /** The job's tasks among `ids` (any case), documents unparsed: what a task's dependency list names. */
  withIds(jobPk: number, ids: string[]): (DependencyRow & { key: string })[] {
    return this.byIdsQ.all(jobPk, JSON.stringify(ids.map((id) => id.toLowerCase()))) as (DependencyRow & { key: string })[];
  }

  /** The job's tasks whose id is an integer in [start, end], by that number: cost grows with the tasks, not the range. */
  withNumberIdsIn(jobPk: number, start: number, end: number): (DependencyRow & { n: number })[] {
    return this.byNumberQ.all(jobPk, start, end) as (DependencyRow & { n: number })[];
  }

  /** Inserts many tasks in one transaction (nested in the caller's, if any). */
  addAll(jobPk: number, docs: CloudTask[]): void {
    this.insertMany(jobPk, docs);
  }
}
