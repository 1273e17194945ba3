import type { BatchContext } from '../context.js';
import { touch, transition, type CloudJobSchedule } from '../models.js';
import { checkChangeable, getJobSchedule, saveJobSchedule } from './lookup.js';
import { runAndGet } from './runSchedules.js';

/**
 * POST /jobschedules/{id}/disable: no job is made from it until it is enabled; its active job goes
 * on, and its nextRunTime stays (a run that falls due meanwhile is made on enable if its start
 * window is still open). Already disabled: no change.
 */
export async function disableJobSchedule(ctx: BatchContext, scheduleId: string, ifMatch?: (s: CloudJobSchedule) => void): Promise<CloudJobSchedule> {
  return await ctx.store.tx(async () => {
    const { doc } = await getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    checkChangeable(doc);
    if (doc.state === 'active') {
      transition(doc, 'disabled', ctx.now);
      touch(doc, ctx.now);
      await saveJobSchedule(ctx, doc);
    }
    return doc;
  });
}

/** POST /jobschedules/{id}/enable: a disabled schedule is active again, and a run due now is made (already active: no change). */
export async function enableJobSchedule(ctx: BatchContext, scheduleId: string, ifMatch?: (s: CloudJobSchedule) => void): Promise<CloudJobSchedule> {
  await ctx.store.tx(async () => {
    const { doc } = await getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    checkChangeable(doc);
    if (doc.state === 'disabled') {
      transition(doc, 'active', ctx.now);
      touch(doc, ctx.now);
      await saveJobSchedule(ctx, doc);
    }
  });
  return await runAndGet(ctx, scheduleId);
}
