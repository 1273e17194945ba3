import type { BatchStore } from '../persistence/batch/store.js';
import { exitOptionsFor } from '../domain/batch/jobs/onTaskFailure.js';
import type { CloudJob, CloudTask, ComputeNode } from '../domain/batch/models.js';

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

/** Task ids a dependency names: ids, and ranges of integer ids. */
function dependencyIds(task: CloudTask): string[] {
  const ids = [...(task.dependsOn?.taskIds ?? [])];
  for (const range of task.dependsOn?.taskIdRanges ?? []) for (let i = range.start; i <= range.end; i++) ids.push(String(i));
  return ids;
}

/**
 * A task runs once every task it depends on has completed and its exit options satisfy dependents
 * (by default: success satisfies, failure blocks).
 */
export function dependenciesMet(store: BatchStore, jobPk: number, task: CloudTask): Verdict {
  for (const id of dependencyIds(task)) {
    const dep = store.tasks.get(jobPk, id)?.doc;
    if (!dep) return no(`WaitingForDependencies: task ${id} does not exist yet.`);
    if (dep.state !== 'completed') return no(`WaitingForDependencies: task ${id} is ${dep.state}.`);
    const action = exitOptionsFor(dep).dependencyAction ?? (dep.executionInfo.result === 'success' ? 'satisfy' : 'block');
    if (action === 'block') return no(`BlockedByDependency: task ${id} failed, which blocks its dependents.`);
  }
  return OK;
}

export function nodeAcceptsTasks(node: ComputeNode): boolean {
  return (node.state === 'idle' || node.state === 'running') && node.schedulingState === 'enabled';
}
