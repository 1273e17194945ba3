import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudJob, CloudTask, Stored } from '../models.js';
import { getJob } from '../jobs/lookup.js';
import { isValidId } from '../validation.js';

export interface TaskRef {
  jobPk: number;
  job: CloudJob;
  task: CloudTask;
}

/** The task an operation addresses, with its job; JobNotFound or TaskNotFound otherwise. */
export async function getTask(ctx: BatchContext, jobId: string, taskId: string): Promise<TaskRef> {
  const job: Stored<CloudJob> = await getJob(ctx, jobId);
  const task = isValidId(taskId) ? await ctx.store.tasks.get(job.pk, taskId) : undefined;
  if (!task) throw batchErrors.taskNotFound();
  return { jobPk: job.pk, job: job.doc, task: task.doc };
}

export async function saveTask(ctx: BatchContext, jobPk: number, task: CloudTask): Promise<void> {
  await ctx.store.tasks.update(jobPk, task);
}
