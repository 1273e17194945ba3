import type { CloudTask } from '../domain/batch/models.js';

/**
 * A run is one attempt at one piece of work on one node. Its id is derived from what the store
 * already records (the job's uid, the task's id, retry and requeue counts), not kept anywhere, so a
 * report still matches after a server restart, and a report for an attempt the server has given up
 * on, or for a deleted job whose id a new job has taken, does not. `job` is the job's uid (StoredJob).
 */
export type RunRef =
  | { kind: 'task'; job: string; taskId: string; attempt: string }
  | { kind: 'starttask'; attempt: number }
  /** `attempt` is the preparation's retry count: a report of an earlier try matches no longer. */
  | { kind: 'jobpreparation'; job: string; attempt: number }
  | { kind: 'jobrelease'; job: string };

export const taskAttempt = (task: CloudTask): string => `${task.executionInfo.retryCount}.${task.executionInfo.requeueCount}`;

export function runId(ref: RunRef): string {
  switch (ref.kind) {
    case 'task':
      return `task/${ref.job}/${ref.taskId}/${ref.attempt}`;
    case 'starttask':
      return `starttask/${ref.attempt}`;
    case 'jobpreparation':
      return `jobpreparation/${ref.job}/${ref.attempt}`;
    default:
      return `${ref.kind}/${ref.job}`;
  }
}

/** The task run id of a job's task as it is now. */
export const taskRunId = (job: { uid: string }, task: CloudTask): string => runId({ kind: 'task', job: job.uid, taskId: task.id, attempt: taskAttempt(task) });

export function parseRunId(id: string): RunRef | undefined {
  const [kind, a, b, c] = id.split('/');
  if (kind === 'task' && a && b && c) return { kind, job: a, taskId: b, attempt: c };
  if (kind === 'starttask' && a) return { kind, attempt: Number(a) };
  if (kind === 'jobpreparation' && a && b) return { kind, job: a, attempt: Number(b) };
  if (kind === 'jobrelease' && a) return { kind, job: a };
  return undefined;
}
