import type { BatchStore } from '../domain/batch/store.js';
import type { DependencyRow } from '../domain/batch/store.js';
import { exitOptionsFor } from '../domain/batch/jobs/onTaskFailure.js';
import type { CloudJob, CloudPool, CloudTask, ComputeNode } from '../domain/batch/models.js';
import { slotsPerNode } from '../domain/batch/nodes/lifecycle.js';

/**
 * The scheduler's feasibility checks, one question each. A check that fails says why, in words a
 * user sees on the waiting task (see waitingReason.ts).
 */
export type Verdict = { ok: true } | { ok: false; reason: string };

const OK: Verdict = { ok: true };
const no = (reason: string): Verdict => ({ ok: false, reason });

export function jobAcceptsTasks(job: CloudJob): Verdict {
  switch (job.state) {
    case 'active':
      return OK;
    case 'disabled':
    case 'disabling':
      return no('JobDisabled: the job is disabled; enable it to schedule its tasks.');
    default:
      return no(`JobNotActive: the job is ${job.state}.`);
  }
}

export function withinParallelLimit(job: CloudJob, running: number): Verdict {
  const max = job.maxParallelTasks;
  return max === undefined || max === -1 || running < max ? OK : no(`MaxParallelTasksReached: the job already runs ${running} of at most ${max} tasks at a time.`);
}

/** Why a completed dependency does not satisfy its dependents, or undefined if it does. */
function blocks(row: DependencyRow, name: string): string | undefined {
  if (row.state !== 'completed') return `WaitingForDependencies: task ${name} is ${row.state}.`;
  // Exit options decide only when the task has exit conditions or failed; parse just those.
  if (row.result === 'success' && !row.doc.includes('"exitConditions"')) return undefined;
  const dep = JSON.parse(row.doc) as CloudTask;
  const action = exitOptionsFor(dep).dependencyAction ?? (dep.executionInfo.result === 'success' ? 'satisfy' : 'block');
  return action === 'block' ? `BlockedByDependency: task ${name} failed, which blocks its dependents.` : undefined;
}

const missing = (name: string | number): Verdict => no(`WaitingForDependencies: task ${name} does not exist yet.`);

/** Ranges sorted and merged, so that each task of the job is read at most once. */
function mergedRanges(ranges: { start: number; end: number }[]): { start: number; end: number }[] {
  const merged: { start: number; end: number }[] = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

/**
 * A task runs once every task it depends on has completed and its exit options satisfy dependents
 * (by default: success satisfies, failure blocks). Ranges are never expanded: a range names up to
 * 2^31 ids, so each is answered from the job's tasks whose ids fall in it, in one query.
 */
export async function dependenciesMet(store: BatchStore, jobPk: number, task: CloudTask): Promise<Verdict> {
  // Ids are case-insensitive: each key once, named as the dependent task names it.
  const named = new Map((task.dependsOn?.taskIds ?? []).map((id) => [id.toLowerCase(), id]));
  if (named.size > 0) {
    const rows = await store.tasks.withIds(jobPk, [...named.keys()]);
    if (rows.length < named.size) {
      const found = new Set(rows.map((r) => r.key));
      return missing([...named].find(([key]) => !found.has(key))![1]);
    }
    for (const row of rows) {
      const reason = blocks(row, named.get(row.key)!);
      if (reason) return no(reason);
    }
  }
  for (const range of mergedRanges(task.dependsOn?.taskIdRanges ?? [])) {
    let expected = range.start;
    for (const row of await store.tasks.withNumberIdsIn(jobPk, range.start, range.end)) {
      if (row.n !== expected) return missing(expected);
      const reason = blocks(row, String(row.n));
      if (reason) return no(reason);
      expected++;
    }
    if (expected <= range.end) return missing(expected);
  }
  return OK;
}

/** A node that is up and would take tasks, were its scheduling enabled. */
export const nodeIsUp = (node: ComputeNode): boolean => node.state === 'idle' || node.state === 'running';

export function nodeAcceptsTasks(node: ComputeNode): boolean {
  return nodeIsUp(node) && node.schedulingState === 'enabled';
}

const isJobManager = (task: CloudTask): boolean => task['jobManager'] === true;

/**
 * A job manager task with runExclusive (true unless set false) has its node to itself: "no other
 * Tasks will run on the same Node for as long as the Job Manager is running" (JobManagerTask).
 */
export const runsExclusive = (task: CloudTask): boolean => isJobManager(task) && task['runExclusive'] !== false;

/** A job manager task with allowLowPriorityNode false runs on dedicated nodes only. */
export const allowsLowPriority = (task: CloudTask): boolean => !(isJobManager(task) && task['allowLowPriorityNode'] === false);

/** The slots a task takes on its node: every slot for an exclusive job manager task. */
export function slotsNeeded(pool: CloudPool, task: CloudTask): number {
  return runsExclusive(task) ? Math.max(slotsPerNode(pool), task.requiredSlots ?? 1) : (task.requiredSlots ?? 1);
}

/**
 * A task needing more slots than a node of its pool has can never run. Azure accepts it and leaves
 * it active for ever (Azure/Batch#117); Kiln does the same, and says so on the task.
 */
export function fitsPool(pool: CloudPool, task: CloudTask): Verdict {
  const need = task.requiredSlots ?? 1;
  const per = slotsPerNode(pool);
  return need <= per ? OK : no(`CannotRun: the task needs ${need} task slots, but nodes of pool ${pool.id} have ${per} (taskSlotsPerNode); it can never run on this pool.`);
}
