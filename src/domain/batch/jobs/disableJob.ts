import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, transition, type CloudJob } from '../models.js';
import { validateModel, type Json } from '../schema/validate.js';
import { getJob, hasTasksOnNodes, saveJob } from './lookup.js';

export type DisableTasks = 'requeue' | 'terminate' | 'wait';

/**
 * Moves a job to `disabling`; it is `disabled` once no task of it is on a node. What happens to
 * running tasks (requeue, terminate, wait) is the node agent's part: `disableTasks` is kept on the
 * job for it. Called in a transaction.
 */
export async function beginJobDisable(ctx: BatchContext, jobPk: number, job: CloudJob, disableTasks: DisableTasks): Promise<void> {
  transition(job, 'disabling', ctx.now);
  job['pendingDisableTasks'] = disableTasks;
  touch(job, ctx.now);
  await saveJob(ctx, job);
  await finishJobDisable(ctx, jobPk, job);
}

/** Completes a disabling job whose tasks are off nodes; the node agent calls it as they stop. */
export async function finishJobDisable(ctx: BatchContext, jobPk: number, job: CloudJob): Promise<boolean> {
  if (job.state !== 'disabling' || (await hasTasksOnNodes(ctx, jobPk))) return false;
  transition(job, 'disabled', ctx.now);
  delete job['pendingDisableTasks'];
  touch(job, ctx.now);
  await saveJob(ctx, job);
  return true;
}

/** POST /jobs/{id}/disable. */
export async function disableJob(ctx: BatchContext, jobId: string, body: Json, ifMatch?: (job: CloudJob) => void): Promise<CloudJob> {
  const params = validateModel('JobDisableParameter', body);
  const job = await ctx.store.tx(async () => {
    const { pk, doc } = await getJob(ctx, jobId);
    ifMatch?.(doc);
    if (doc.state === 'deleting') throw batchErrors.jobBeingDeleted();
    if (doc.state === 'completed') throw batchErrors.jobCompleted();
    if (doc.state === 'terminating') throw batchErrors.jobBeingTerminated();
    if (doc.state === 'enabling') throw batchErrors.operationInvalidForCurrentState('The job is being enabled.');
    if (doc.state === 'active') await beginJobDisable(ctx, pk, doc, params['disableTasks'] as DisableTasks);
    return doc;
  });
  ctx.hooks.jobEnded?.(ctx.account, job);
  return job;
}

/** POST /jobs/{id}/enable: a disabled job becomes active again (through `enabling`, at once here). */
export async function enableJob(ctx: BatchContext, jobId: string, ifMatch?: (job: CloudJob) => void): Promise<CloudJob> {
  return await ctx.store.tx(async () => {
    const { doc } = await getJob(ctx, jobId);
    ifMatch?.(doc);
    if (doc.state === 'deleting') throw batchErrors.jobBeingDeleted();
    if (doc.state === 'completed') throw batchErrors.jobCompleted();
    if (doc.state === 'terminating') throw batchErrors.jobBeingTerminated();
    if (doc.state === 'active' || doc.state === 'enabling') return doc;
    if (doc.state === 'disabling') throw batchErrors.operationInvalidForCurrentState('The job is being disabled.');
    transition(doc, 'enabling', ctx.now);
    transition(doc, 'active', ctx.now);
    doc.previousState = 'disabled';
    touch(doc, ctx.now);
    await saveJob(ctx, doc);
    return doc;
  });
}
