import type { BatchContext } from '../context.js';
import { UNLIMITED_DURATION } from '../duration.js';
import { touch, type CloudTask } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkCommand } from '../validation.js';
import { getTask, saveTask } from './lookup.js';

/** PUT /jobs/{j}/tasks/{t}: the task's constraints are replaced (those left out return to defaults). */
export async function updateTask(ctx: BatchContext, jobId: string, taskId: string, body: Json, ifMatch?: (task: CloudTask) => void): Promise<CloudTask> {
  const params = validateModel('TaskUpdateParameter', body ?? {});
  const constraints = (params['constraints'] as JsonObject | undefined) ?? {};
  checkCommand({ constraints }, '');
  return await ctx.store.tx(async () => {
    const { jobPk, job, task } = await getTask(ctx, jobId, taskId);
    ifMatch?.(task);
    task.constraints = {
      maxWallClockTime: (constraints['maxWallClockTime'] as string | undefined) ?? UNLIMITED_DURATION,
      retentionTime: (constraints['retentionTime'] as string | undefined) ?? 'P7D',
      maxTaskRetryCount: (constraints['maxTaskRetryCount'] as number | undefined) ?? job.constraints?.maxTaskRetryCount ?? 0,
    };
    touch(task, ctx.now);
    await saveTask(ctx, jobPk, task);
    return task;
  });
}
