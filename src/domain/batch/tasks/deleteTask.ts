import type { BatchContext } from '../context.js';
import { applyOnAllTasksComplete } from '../jobs/onAllTasksComplete.js';
import type { CloudTask } from '../models.js';
import { getTask } from './lookup.js';

/**
 * DELETE /jobs/{j}/tasks/{t}: the task is gone at once (a running one's process is for the node
 * agent to stop: hooks.taskEnded); its job may now have all its tasks complete.
 */
export function deleteTask(ctx: BatchContext, jobId: string, taskId: string, ifMatch?: (task: CloudTask) => void): void {
  const ref = ctx.store.tx(() => {
    const ref = getTask(ctx, jobId, taskId);
    ifMatch?.(ref.task);
    ctx.store.tasks.delete(ref.jobPk, ref.task.id);
    applyOnAllTasksComplete(ctx, ref.jobPk, ref.job);
    return ref;
  });
  if (ref.task.state !== 'active' && ref.task.state !== 'completed') ctx.hooks.taskEnded?.(ctx.account, ref.job, ref.task);
}
