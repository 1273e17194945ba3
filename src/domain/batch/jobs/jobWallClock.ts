import { jobEndedAfterCommit, type BatchContext } from '../context.js';
import { parseDuration } from '../duration.js';
import { beginJobTermination } from './terminateJob.js';

/**
 * constraints.maxWallClockTime of a job: once that long has passed since the job was created, it is
 * terminated (terminateReason MaxWallClockTimeExpiry) and its running tasks end with it.
 * Returns how many jobs it ended.
 */
export async function expireJobs(ctx: BatchContext): Promise<number> {
  let ended = 0;
  await ctx.store.tx(async () => {
    for (const { pk, doc: job } of await ctx.store.jobs.timeLimited(ctx.account)) {
      const limit = parseDuration(job.constraints?.maxWallClockTime ?? '');
      if (limit === undefined || Date.parse(job.creationTime) + limit > ctx.now.getTime()) continue;
      await beginJobTermination(ctx, pk, job, 'MaxWallClockTimeExpiry');
      jobEndedAfterCommit(ctx, job);
      ended++;
    }
  });
  return ended;
}
