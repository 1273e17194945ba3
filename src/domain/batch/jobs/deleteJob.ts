import { jobFinishedAfterCommit, type BatchContext } from '../context.js';
import { touch, transition, type CloudJob } from '../models.js';
import { releaseAutoPool } from './autoPool.js';
import { getJob, hasTasksOnNodes, saveJob } from './lookup.js';

/**
 * DELETE /jobs/{id}: the job goes to `deleting`; it and its tasks are gone once no task is on a
 * node (the node agent stops them: hooks.jobEnded, then finishJobDeletion). With none, at once.
 */
export function deleteJob(ctx: BatchContext, jobId: string, ifMatch?: (job: CloudJob) => void): void {
  const job = ctx.store.tx(() => {
    const { pk, doc } = getJob(ctx, jobId);
    ifMatch?.(doc);
    if (doc.state !== 'deleting') {
      transition(doc, 'deleting', ctx.now);
      touch(doc, ctx.now);
      saveJob(ctx, doc);
    }
    finishJobDeletion(ctx, pk, doc);
    return doc;
  });
  ctx.hooks.jobEnded?.(ctx.account, job);
}

/** Removes a deleting job and its tasks once none is on a node. Called in a transaction. */
export function finishJobDeletion(ctx: BatchContext, jobPk: number, job: CloudJob): boolean {
  if (job.state !== 'deleting' || hasTasksOnNodes(ctx, jobPk)) return false;
  ctx.store.jobs.deleteByPk(jobPk);
  releaseAutoPool(ctx, job, 'deleted');
  jobFinishedAfterCommit(ctx, job);
  return true;
}
