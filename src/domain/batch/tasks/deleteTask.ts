import type { BatchContext } from '../context.js';
import { applyOnAllTasksComplete } from '../jobs/onAllTasksComplete.js';
import type { CloudTask } from '../models.js';
import { getTask } from './lookup.js';

/**
 * DELETE /jobs/{j}/tasks/{t}: the task is gone at once (a running one's process is for the node
 * agent to stop: hooks.taskEnded); its job may now have all its tasks complete.
 */
export async function deleteTask(ctx: BatchContext, jobId: string, taskId: string, ifMatch?: (task: CloudTask) => void): Promise<void> {
  const ref = await ctx.store.tx(async () => {
    const ref = await getTask(ctx, jobId, taskId);
    ifMatch?.(ref.task);
    await ctx.store.tasks.delete(ref.jobPk, ref.task.id);
    await applyOnAllTasksComplete(ctx, ref.jobPk, ref.job);
    return ref;
  });
  if (ref.task.state !== 'active' && ref.task.state !== 'completed') ctx.hooks.taskEnded?.(ctx.account, ref.job, ref.task);
}
