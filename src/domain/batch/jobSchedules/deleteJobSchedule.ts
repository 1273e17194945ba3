import type { BatchContext } from '../context.js';
import type { CloudJobSchedule } from '../models.js';
import { getJobSchedule } from './lookup.js';

/**
 * DELETE /jobschedules/{id}: the schedule goes to `deleting` and is gone with its jobs. Kiln makes
 * no jobs from schedules yet, so nothing is left to delete: it is removed at once.
 */
export function deleteJobSchedule(ctx: BatchContext, scheduleId: string, ifMatch?: (s: CloudJobSchedule) => void): void {
  ctx.store.tx(() => {
    const { doc } = getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    ctx.store.jobSchedules.delete(ctx.account, doc.id);
  });
}
