import type { BatchContext } from '../context.js';
import { BatchError, batchErrors } from '../errors.js';
import { getJob } from '../jobs/lookup.js';
import { touch, type CloudJob, type CloudTask } from '../models.js';
import type { Json, JsonObject } from '../schema/validate.js';
import { newTaskDoc, parseTask } from './newTask.js';

/** Tasks can be added while a job is active or disabled, not once it is ending. */
async function getJobForNewTasks(ctx: BatchContext, jobId: string): Promise<{ pk: number; doc: CloudJob }> {
  const job = await getJob(ctx, jobId);
  switch (job.doc.state) {
    case 'completed':
      throw batchErrors.jobCompleted();
    case 'terminating':
      throw batchErrors.jobBeingTerminated();
    case 'deleting':
      throw batchErrors.jobBeingDeleted();
    default:
      return job;
  }
}

/** POST /jobs/{id}/tasks. */
export async function addTask(ctx: BatchContext, jobId: string, body: Json): Promise<CloudTask> {
  return await ctx.store.tx(async () => {
    const job = await getJobForNewTasks(ctx, jobId);
    const task = newTaskDoc(ctx, job.doc, parseTask(job.doc, body));
    if (await ctx.store.tasks.exists(job.pk, task.id)) throw batchErrors.taskExists();
    touch(task, ctx.now);
    await ctx.store.tasks.insert(job.pk, task);
    return task;
  });
}

export type TaskAddResult = { status: 'success'; taskId: string; task: CloudTask } | { status: 'clienterror' | 'servererror'; taskId: string; error: BatchError };

/**
 * POST /jobs/{id}/addtaskcollection: up to 100 tasks, each added or refused on its own (a refused
 * task does not stop the others). Request-level problems (no job, no `value`) fail the whole call.
 */
export async function addTaskCollection(ctx: BatchContext, jobId: string, body: Json): Promise<TaskAddResult[]> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw batchErrors.invalidBody('The request body expects an object of type TaskAddCollectionParameter.');
  const unknown = Object.keys(body).find((k) => k !== 'value');
  if (unknown !== undefined) throw batchErrors.invalidBody(`The property '${unknown}' does not exist on type 'TaskAddCollectionParameter'.`);
  const value = body['value'];
  if (value === undefined || value === null) throw batchErrors.missingProperty('value');
  if (!Array.isArray(value)) throw batchErrors.invalidBody("Property 'value' expects an array.");
  if (value.length > 100) throw batchErrors.invalidProperty('value', `${value.length} tasks`, 'At most 100 tasks can be added in one request.');
  return await ctx.store.tx(async () => {
    const job = await getJobForNewTasks(ctx, jobId);
    const seen = new Set<string>();
    const results: TaskAddResult[] = [];
    const accepted: CloudTask[] = [];
    for (const item of value) {
      const taskId = typeof (item as JsonObject | null)?.['id'] === 'string' ? ((item as JsonObject)['id'] as string) : '';
      try {
        const task = newTaskDoc(ctx, job.doc, parseTask(job.doc, item));
        const key = task.id.toLowerCase();
        if (seen.has(key) || (await ctx.store.tasks.exists(job.pk, task.id))) throw batchErrors.taskExists();
        seen.add(key);
        touch(task, ctx.now);
        accepted.push(task);
        results.push({ status: 'success', taskId: task.id, task });
      } catch (err) {
        if (!(err instanceof BatchError)) throw err;
        results.push({ status: 'clienterror', taskId, error: err });
      }
    }
    await ctx.store.tasks.addAll(job.pk, accepted);
    return results;
  });
}
