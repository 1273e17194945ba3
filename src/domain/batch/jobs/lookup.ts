import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudJob, Stored } from '../models.js';
import { isValidId } from '../validation.js';
import { isScheduledJobId } from '../jobSchedules/jobIds.js';

/** The job an operation addresses; JobNotFound when there is none. */
export function getJob(ctx: BatchContext, jobId: string): Stored<CloudJob> {
  const job = isValidId(jobId) || isScheduledJobId(jobId) ? ctx.store.jobs.get(ctx.account, jobId) : undefined;
  if (!job) throw batchErrors.jobNotFound();
  return job;
}

/** A job that may still change: not being deleted, not completed, not being terminated. */
export function getChangeableJob(ctx: BatchContext, jobId: string): Stored<CloudJob> {
  const job = getJob(ctx, jobId);
  if (job.doc.state === 'deleting') throw batchErrors.jobBeingDeleted();
  if (job.doc.state === 'completed') throw batchErrors.jobCompleted();
  if (job.doc.state === 'terminating') throw batchErrors.jobBeingTerminated();
  return job;
}

export function saveJob(ctx: BatchContext, job: CloudJob): void {
  ctx.store.jobs.update(ctx.account, job);
}

/** Whether any task of the job is on a node (preparing or running): state changes wait for those. */
export const hasTasksOnNodes = (ctx: BatchContext, jobPk: number): boolean => ctx.store.tasks.inStates(jobPk, ['preparing', 'running']).length > 0;
