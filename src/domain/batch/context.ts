import type { BatchStore } from '../../persistence/batch/store.js';
import type { CloudJob, CloudTask, ComputeNode, CloudPool } from './models.js';

/**
 * What the node agent and scheduler (next issue) hear about: changes the API makes that they must
 * act on (kill a running task's process, drain a node). Every hook runs after the change commits.
 */
export interface BatchHooks {
  taskEnded?(account: string, job: CloudJob, task: CloudTask): void;
  jobEnded?(account: string, job: CloudJob): void;
  poolDeleting?(account: string, pool: CloudPool): void;
  nodeChanged?(account: string, pool: CloudPool, node: ComputeNode): void;
  /** After any change through the API: tasks added, pools resized, jobs enabled... */
  changed?(account: string): void;
}

/** Everything a Batch operation needs: the store, whose account, the time, and the hooks. */
export interface BatchContext {
  store: BatchStore;
  account: string;
  now: Date;
  hooks: BatchHooks;
}

export const iso = (ctx: BatchContext): string => ctx.now.toISOString();

/**
 * Tells the hooks that a job began to end (terminating, disabling) on its own, from inside a
 * transaction: onAllTasksComplete, onTaskFailure. Transactions are synchronous, so a microtask runs
 * once this one has committed, as hooks expect; the hook reads the job again and acts on its state.
 */
export function jobEndedAfterCommit(ctx: BatchContext, job: CloudJob): void {
  const hook = ctx.hooks.jobEnded;
  if (!hook) return;
  queueMicrotask(() => {
    try {
      hook(ctx.account, job);
    } catch (err) {
      console.error(`jobEnded hook failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  });
}

/** A request body's object-valued property, or undefined. */
export const objectProp = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
