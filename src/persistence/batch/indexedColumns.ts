import type { CloudJob, CloudTask, EntityDoc, TaskState } from '../../domain/batch/models.js';
import type { TaskCounts } from '../../domain/batch/store.js';

/**
 * What the Batch tables store beside each document, whatever the database: the columns every entity
 * table has, and the extra indexed columns of jobs and tasks, read off the document. Both stores read
 * them from here (SQLite: entityTable.ts, jobs.ts, tasks.ts; PostgreSQL: postgres/batchStore.ts).
 */
export const ENTITY_COLUMNS = ['id_key', 'id', 'state', 'creation_time', 'last_modified', 'state_transition_time', 'doc'] as const;

/** The values of ENTITY_COLUMNS for a document, in order: the id lower-cased as its key (ids are unique without case). */
export function entityValues(doc: EntityDoc): string[] {
  return [doc.id.toLowerCase(), doc.id, doc.state, doc.creationTime, doc.lastModified, doc.stateTransitionTime, JSON.stringify(doc)];
}

/** An extra column: how to read it off a document, and its SQL type. */
export interface ExtraColumn<T> {
  read: (doc: T) => string | number | null;
  type: 'text' | 'integer' | 'bigint';
}

export const JOB_COLUMNS: Record<'pool_id' | 'schedule_pk', ExtraColumn<CloudJob>> = {
  /** The pool it runs on, lower-cased (pool ids are case-insensitive): the scheduler's view of a pool. */
  pool_id: { read: (doc) => (doc.executionInfo.poolId ?? doc.poolInfo.poolId ?? null)?.toLowerCase() ?? null, type: 'text' },
  schedule_pk: { read: (doc) => (typeof doc['_schedulePk'] === 'number' ? doc['_schedulePk'] : null), type: 'bigint' },
};

export const TASK_COLUMNS: Record<'result' | 'slots', ExtraColumn<CloudTask>> = {
  result: { read: (doc) => doc.executionInfo.result ?? null, type: 'text' },
  slots: { read: (doc) => doc.requiredSlots ?? 1, type: 'integer' },
};

/** Task counts and slot counts, as GET /jobs/{id}/taskcounts reports them, from counts grouped by state and result. */
export function tallyTaskCounts(rows: { state: TaskState; result: string | null; n: number; slots: number | null }[]): { taskCounts: TaskCounts; taskSlotCounts: TaskCounts } {
  const taskCounts: TaskCounts = { active: 0, running: 0, completed: 0, succeeded: 0, failed: 0 };
  const taskSlotCounts: TaskCounts = { ...taskCounts };
  for (const row of rows) {
    const slots = row.slots ?? row.n;
    // Preparing tasks count as running, as Azure counts them.
    const bucket = row.state === 'preparing' ? 'running' : row.state;
    taskCounts[bucket] += row.n;
    taskSlotCounts[bucket] += slots;
    if (row.state === 'completed') {
      const outcome = row.result === 'success' ? 'succeeded' : 'failed';
      taskCounts[outcome] += row.n;
      taskSlotCounts[outcome] += slots;
    }
  }
  return { taskCounts, taskSlotCounts };
}
