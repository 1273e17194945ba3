import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudTask, FailureInfo } from '../models.js';
import { completeTask } from './completeTask.js';
import { getTask } from './lookup.js';

/** The failure a task ended by its user reports (code TaskEnded, a user error). */
export const TASK_ENDED: FailureInfo = { category: 'usererror', code: 'TaskEnded', message: 'Task Was Ended by User Request' };

/**
 * POST /jobs/{j}/tasks/{t}/terminate: the task completes with failure TaskEnded. A running task's
 * process is for the node agent to stop (hooks.taskEnded). Ending a task is no failure of the task
 * itself, so onTaskFailure does not act on it; onAllTasksComplete does.
 */
export async function terminateTask(ctx: BatchContext, jobId: string, taskId: string, ifMatch?: (task: CloudTask) => void): Promise<CloudTask> {
  const ref = await ctx.store.tx(async () => {
    const ref = await getTask(ctx, jobId, taskId);
    ifMatch?.(ref.task);
    if (ref.task.state === 'completed') throw batchErrors.taskCompleted();
    await completeTask(ctx, ref.jobPk, ref.job, ref.task, { failureInfo: TASK_ENDED, endedByUser: true });
    return ref;
  });
  ctx.hooks.taskEnded?.(ctx.account, ref.job, ref.task);
  return ref.task;
}
