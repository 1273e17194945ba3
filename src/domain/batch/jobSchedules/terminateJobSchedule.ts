import type { BatchContext } from '../context.js';
import { touch, transition, type CloudJobSchedule } from '../models.js';
import { checkChangeable, getJobSchedule, saveJobSchedule } from './lookup.js';

/**
 * POST /jobschedules/{id}/terminate: `terminating`, then `completed` once its active job has ended.
 * Kiln makes no jobs from schedules yet, so there is none to wait for: it completes at once.
 */
export function terminateJobSchedule(ctx: BatchContext, scheduleId: string, ifMatch?: (s: CloudJobSchedule) => void): CloudJobSchedule {
  return ctx.store.tx(() => {
    const { doc } = getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    checkChangeable(doc);
    transition(doc, 'terminating', ctx.now);
    transition(doc, 'completed', ctx.now);
    doc.executionInfo = { ...doc.executionInfo, endTime: ctx.now.toISOString() };
    delete doc.executionInfo.nextRunTime;
    touch(doc, ctx.now);
    saveJobSchedule(ctx, doc);
    return doc;
  });
}
