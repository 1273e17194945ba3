import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, transition, type CloudTask } from '../models.js';
import { getTask, saveTask } from './lookup.js';

/**
 * POST /jobs/{j}/tasks/{t}/reactivate: a task that completed with a failure becomes active again,
 * with its retry count back to 0, as if it had just been added (the scheduler picks it up).
 */
export async function reactivateTask(ctx: BatchContext, jobId: string, taskId: string, ifMatch?: (task: CloudTask) => void): Promise<CloudTask> {
  return await ctx.store.tx(async () => {
    const { jobPk, job, task } = await getTask(ctx, jobId, taskId);
    ifMatch?.(task);
    if (job.state === 'completed') throw batchErrors.jobCompleted();
    if (job.state === 'terminating') throw batchErrors.jobBeingTerminated();
    if (job.state === 'deleting') throw batchErrors.jobBeingDeleted();
    if (task.state !== 'completed') throw batchErrors.taskNotCompleted();
    if (task.executionInfo.result === 'success') throw batchErrors.taskSucceeded();
    transition(task, 'active', ctx.now);
    task.executionInfo = { retryCount: 0, requeueCount: task.executionInfo.requeueCount };
    delete task.nodeInfo;
    touch(task, ctx.now);
    await saveTask(ctx, jobPk, task);
    return task;
  });
}
