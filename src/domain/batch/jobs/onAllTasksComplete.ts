import { jobEndedAfterCommit, type BatchContext } from '../context.js';
import type { CloudJob } from '../models.js';
import { beginJobTermination } from './terminateJob.js';

/**
 * onAllTasksComplete: terminatejob ends the job once none of its tasks is left to finish (a job with
 * no tasks counts as all complete). Checked whenever that can become true: a task completes or is
 * deleted, the job is added or its setting changes. Called in a transaction.
 */
export async function applyOnAllTasksComplete(ctx: BatchContext, jobPk: number, job: CloudJob): Promise<boolean> {
  if (job.onAllTasksComplete !== 'terminatejob') return false;
  if (job.state !== 'active' && job.state !== 'disabled') return false;
  if (await ctx.store.tasks.hasUnfinished(jobPk)) return false;
  await beginJobTermination(ctx, jobPk, job, 'AllTasksComplete');
  // Nodes that ran its tasks run its release task.
  jobEndedAfterCommit(ctx, job);
  return true;
}
