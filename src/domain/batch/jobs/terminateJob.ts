import { jobFinishedAfterCommit, type BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, transition, type CloudJob } from '../models.js';
import { validateModel, type Json } from '../schema/validate.js';
import { releaseAutoPool } from './autoPool.js';
import { getJob, hasTasksOnNodes, saveJob } from './lookup.js';

/** Reasons the service itself gives (anything else is the user's own text). */
export type TerminateReason = 'UserTerminate' | 'AllTasksComplete' | 'TaskFailed' | 'MaxWallClockTimeExpiry' | 'JMComplete' | 'TerminateJobSchedule' | string;

/**
 * Moves a job to `terminating`; it completes once no task of it is on a node. Active tasks stay
 * active (Azure leaves them so); running ones are for the node agent to stop (hooks.jobEnded).
 * Called in a transaction.
 */
export async function beginJobTermination(ctx: BatchContext, jobPk: number, job: CloudJob, reason: TerminateReason): Promise<void> {
  transition(job, 'terminating', ctx.now);
  job.executionInfo.terminateReason = reason;
  touch(job, ctx.now);
  await saveJob(ctx, job);
  await finishJobTermination(ctx, jobPk, job);
}

/** Completes a terminating job whose tasks are all off nodes; the node agent calls it as they stop. */
export async function finishJobTermination(ctx: BatchContext, jobPk: number, job: CloudJob): Promise<boolean> {
  if (job.state !== 'terminating' || (await hasTasksOnNodes(ctx, jobPk))) return false;
  transition(job, 'completed', ctx.now);
  job.executionInfo.endTime = ctx.now.toISOString();
  touch(job, ctx.now);
  await saveJob(ctx, job);
  await releaseAutoPool(ctx, job, 'completed');
  jobFinishedAfterCommit(ctx, job);
  return true;
}

/** POST /jobs/{id}/terminate. */
export async function terminateJob(ctx: BatchContext, jobId: string, body: Json, ifMatch?: (job: CloudJob) => void): Promise<CloudJob> {
  const params = validateModel('JobTerminateParameter', body ?? {});
  const job = await ctx.store.tx(async () => {
    const { pk, doc } = await getJob(ctx, jobId);
    ifMatch?.(doc);
    if (doc.state === 'deleting') throw batchErrors.jobBeingDeleted();
    if (doc.state === 'completed') throw batchErrors.jobCompleted();
    if (doc.state === 'terminating') throw batchErrors.jobBeingTerminated();
    await beginJobTermination(ctx, pk, doc, (params['terminateReason'] as string | undefined) ?? 'UserTerminate');
    return doc;
  });
  ctx.hooks.jobEnded?.(ctx.account, job);
  return job;
}
