import type { CloudTask } from '../domain/batch/models.js';

/**
 * A run is one attempt at one piece of work on one node. Its id is derived from what the store
 * already records (task, retry and requeue counts, node), not kept anywhere, so a report still
 * matches after a server restart, and a report for an attempt the server has given up on does not.
 */
export type RunRef =
  | { kind: 'task'; jobPk: number; taskId: string; attempt: string }
  | { kind: 'starttask'; attempt: number }
  /** `attempt` is the preparation's retry count: a report of an earlier try matches no longer. */
  | { kind: 'jobpreparation'; jobPk: number; attempt: number }
  | { kind: 'jobrelease'; jobPk: number };

export const taskAttempt = (task: CloudTask): string => `${task.executionInfo.retryCount}.${task.executionInfo.requeueCount}`;

export function runId(ref: RunRef): string {
  switch (ref.kind) {
    case 'task':
      return `task/${ref.jobPk}/${ref.taskId}/${ref.attempt}`;
    case 'starttask':
      return `starttask/${ref.attempt}`;
    case 'jobpreparation':
      return `jobpreparation/${ref.jobPk}/${ref.attempt}`;
    default:
      return `${ref.kind}/${ref.jobPk}`;
  }
}

export function parseRunId(id: string): RunRef | undefined {
  const [kind, a, b, c] = id.split('/');
  if (kind === 'task' && a && b && c) return { kind, jobPk: Number(a), taskId: b, attempt: c };
  if (kind === 'starttask' && a) return { kind, attempt: Number(a) };
  if (kind === 'jobpreparation' && a && b) return { kind, jobPk: Number(a), attempt: Number(b) };
  if (kind === 'jobrelease' && a) return { kind, jobPk: Number(a) };
  return undefined;
}
