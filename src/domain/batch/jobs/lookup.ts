import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudJob, Stored } from '../models.js';
import { isValidId } from '../validation.js';
import { isScheduledJobId } from '../jobSchedules/jobIds.js';

/** The job an operation addresses; JobNotFound when there is none. */
export async function getJob(ctx: BatchContext, jobId: string): Promise<Stored<CloudJob>> {
  const job = isValidId(jobId) || isScheduledJobId(jobId) ? await ctx.store.jobs.get(ctx.account, jobId) : undefined;
  if (!job) throw batchErrors.jobNotFound();
  return job;
}

/** A job that may still change: not being deleted, not completed, not being terminated. */
export async function getChangeableJob(ctx: BatchContext, jobId: string): Promise<Stored<CloudJob>> {
  const job = await getJob(ctx, jobId);
  if (job.doc.state === 'deleting') throw batchErrors.jobBeingDeleted();
  if (job.doc.state === 'completed') throw batchErrors.jobCompleted();
  if (job.doc.state === 'terminating') throw batchErrors.jobBeingTerminated();
  return job;
}

export async function saveJob(ctx: BatchContext, job: CloudJob): Promise<void> {
  await ctx.store.jobs.update(ctx.account, job);
}

/** Whether any task of the job is on a node (preparing or running): state changes wait for those. */
export const hasTasksOnNodes = async (ctx: BatchContext, jobPk: number): Promise<boolean> => (await ctx.store.tasks.inStates(jobPk, ['preparing', 'running'])).length > 0;
