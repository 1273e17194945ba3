import type { BatchContext } from '../context.js';
import { touch, transition, type CloudJobSchedule } from '../models.js';
import { getJobSchedule, saveJobSchedule } from './lookup.js';
import { runJobSchedule } from './runSchedules.js';

/**
 * DELETE /jobschedules/{id}: the schedule goes to `deleting`, makes no more jobs, and its jobs are
 * deleted (their tasks stopped, as DELETE /jobs/{id} does); it is gone once they are, at once when
 * none of them has a task on a node. Deleting a schedule already being deleted changes nothing.
 */
export async function deleteJobSchedule(ctx: BatchContext, scheduleId: string, ifMatch?: (s: CloudJobSchedule) => void): Promise<void> {
  await ctx.store.tx(async () => {
    const { doc } = await getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    if (doc.state === 'deleting') return;
    transition(doc, 'deleting', ctx.now);
    delete doc.executionInfo.nextRunTime;
    touch(doc, ctx.now);
    await saveJobSchedule(ctx, doc);
  });
  await runJobSchedule(ctx, scheduleId);
}
