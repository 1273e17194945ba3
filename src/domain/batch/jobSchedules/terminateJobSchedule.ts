import type { BatchContext } from '../context.js';
import { touch, transition, type CloudJobSchedule } from '../models.js';
import { checkChangeable, getJobSchedule, saveJobSchedule } from './lookup.js';
import { runAndGet } from './runSchedules.js';

/**
 * POST /jobschedules/{id}/terminate: `terminating`, no more jobs; its active job is terminated
 * (terminateReason TerminateJobSchedule), and the schedule is `completed` once that job has
 * completed: at once when it has no task on a node, or none is active.
 */
export async function terminateJobSchedule(ctx: BatchContext, scheduleId: string, ifMatch?: (s: CloudJobSchedule) => void): Promise<CloudJobSchedule> {
  await ctx.store.tx(async () => {
    const { doc } = await getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    checkChangeable(doc);
    transition(doc, 'terminating', ctx.now);
    delete doc.executionInfo.nextRunTime;
    touch(doc, ctx.now);
    await saveJobSchedule(ctx, doc);
  });
  return await runAndGet(ctx, scheduleId);
}
