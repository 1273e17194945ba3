import type { CloudJob, CloudTask, ComputeNode, CloudPool } from './models.js';
import type { BatchStore } from './store.js';

/**
 * What the node agent and scheduler (next issue) hear about: changes the API makes that they must
 * act on (kill a running task's process, drain a node). Every hook runs after the change commits.
 */
export interface BatchHooks {
  taskEnded?(account: string, job: CloudJob, task: CloudTask): void;
  jobEnded?(account: string, job: CloudJob): void;
  /** A job is over (completed, or deleted): the job schedule that made it may make its next job, or end. */
  jobFinished?(account: string, job: CloudJob): void;
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

/** A job began to end (terminating, disabling) on its own; the hook reads it again and acts on its state. */
export function jobEndedAfterCommit(ctx: BatchContext, job: CloudJob): void {
  const hook = ctx.hooks.jobEnded;
  if (hook) ctx.store.afterCommit(() => hook(ctx.account, job));
}

/** A job completed or was deleted (finishJobTermination, finishJobDeletion). */
export function jobFinishedAfterCommit(ctx: BatchContext, job: CloudJob): void {
  const hook = ctx.hooks.jobFinished;
  if (hook) ctx.store.afterCommit(() => hook(ctx.account, job));
}

/** A pool began to be deleted on its own (a job's auto pool). */
export function poolDeletingAfterCommit(ctx: BatchContext, pool: CloudPool): void {
  const hook = ctx.hooks.poolDeleting;
  if (hook) ctx.store.afterCommit(() => hook(ctx.account, pool));
}
