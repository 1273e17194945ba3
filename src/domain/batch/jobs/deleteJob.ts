import { jobFinishedAfterCommit, type BatchContext } from '../context.js';
import { touch, transition, type CloudJob } from '../models.js';
import { releaseAutoPool } from './autoPool.js';
import { getJob, hasTasksOnNodes, saveJob } from './lookup.js';

/**
 * DELETE /jobs/{id}: the job goes to `deleting`; it and its tasks are gone once no task is on a
 * node (the node agent stops them: hooks.jobEnded, then finishJobDeletion). With none, at once.
 */
export async function deleteJob(ctx: BatchContext, jobId: string, ifMatch?: (job: CloudJob) => void): Promise<void> {
  const job = await ctx.store.tx(async () => {
    const { pk, doc } = await getJob(ctx, jobId);
    ifMatch?.(doc);
    if (doc.state !== 'deleting') {
      transition(doc, 'deleting', ctx.now);
      touch(doc, ctx.now);
      await saveJob(ctx, doc);
    }
    await finishJobDeletion(ctx, pk, doc);
    return doc;
  });
  ctx.hooks.jobEnded?.(ctx.account, job);
}

/** Removes a deleting job and its tasks once none is on a node. Called in a transaction. */
export async function finishJobDeletion(ctx: BatchContext, jobPk: number, job: CloudJob): Promise<boolean> {
  if (job.state !== 'deleting' || (await hasTasksOnNodes(ctx, jobPk))) return false;
  await ctx.store.jobs.deleteByPk(jobPk);
  await releaseAutoPool(ctx, job, 'deleted');
  jobFinishedAfterCommit(ctx, job);
  return true;
}
