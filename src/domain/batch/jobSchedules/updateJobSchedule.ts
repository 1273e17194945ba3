import type { BatchContext } from '../context.js';
import { touch, type CloudJobSchedule } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkJobScheduleSpec } from '../validation.js';
import { checkScheduleAutoPool, withJobDefaults } from './addJobSchedule.js';
import { checkChangeable, getJobSchedule, saveJobSchedule } from './lookup.js';
import { sameSchedule } from './recurrence.js';
import { planFirstRun, runAndGet } from './runSchedules.js';

/**
 * The schedule, the job specification and the metadata are each replaced whole when given (jobs
 * already made keep the old specification); PUT also drops metadata that it leaves out. A new
 * (different) `schedule` starts over from the change, as a new job schedule would: its first run at its
 * doNotRunUntil, or at once (still at most one active job). Azure does not say; Kiln's choice.
 */
async function change(ctx: BatchContext, scheduleId: string, changes: JsonObject, replaceAll: boolean, ifMatch?: (s: CloudJobSchedule) => void): Promise<CloudJobSchedule> {
  checkJobScheduleSpec(changes);
  checkScheduleAutoPool(changes['jobSpecification'] as JsonObject | undefined);
  await ctx.store.tx(async () => {
    const { doc } = await getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    checkChangeable(doc);
    const schedule = changes['schedule'] as CloudJobSchedule['schedule'] | undefined;
    if (schedule !== undefined) {
      const restart = !sameSchedule(schedule, doc.schedule);
      doc.schedule = schedule;
      if (restart) planFirstRun(ctx, doc);
    }
    if (changes['jobSpecification'] !== undefined) doc.jobSpecification = withJobDefaults(changes['jobSpecification'] as JsonObject);
    if (changes['metadata'] !== undefined) doc['metadata'] = changes['metadata'];
    else if (replaceAll) delete doc['metadata'];
    touch(doc, ctx.now);
    await saveJobSchedule(ctx, doc);
  });
  return await runAndGet(ctx, scheduleId);
}

/** PATCH /jobschedules/{id}: only the properties given change. */
export const patchJobSchedule = async (ctx: BatchContext, scheduleId: string, body: Json, ifMatch?: (s: CloudJobSchedule) => void): Promise<CloudJobSchedule> =>
  await change(ctx, scheduleId, validateModel('JobSchedulePatchParameter', body), false, ifMatch);

/** PUT /jobschedules/{id}: schedule and jobSpecification are replaced; metadata left out is removed. */
export const updateJobSchedule = async (ctx: BatchContext, scheduleId: string, body: Json, ifMatch?: (s: CloudJobSchedule) => void): Promise<CloudJobSchedule> =>
  await change(ctx, scheduleId, validateModel('JobScheduleUpdateParameter', body), true, ifMatch);
