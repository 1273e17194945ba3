import type { BatchContext } from '../context.js';
import { touch, type CloudJobSchedule } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkJobScheduleSpec } from '../validation.js';
import { withJobDefaults } from './addJobSchedule.js';
import { checkChangeable, getJobSchedule, saveJobSchedule } from './lookup.js';

/**
 * The schedule, the job specification and the metadata are each replaced whole when given (jobs
 * already made keep the old specification); PUT also drops metadata that it leaves out.
 */
function change(ctx: BatchContext, scheduleId: string, changes: JsonObject, replaceAll: boolean, ifMatch?: (s: CloudJobSchedule) => void): CloudJobSchedule {
  checkJobScheduleSpec(changes);
  return ctx.store.tx(() => {
    const { doc } = getJobSchedule(ctx, scheduleId);
    ifMatch?.(doc);
    checkChangeable(doc);
    if (changes['schedule'] !== undefined) doc.schedule = changes['schedule'] as CloudJobSchedule['schedule'];
    if (changes['jobSpecification'] !== undefined) doc.jobSpecification = withJobDefaults(changes['jobSpecification'] as JsonObject);
    if (changes['metadata'] !== undefined) doc['metadata'] = changes['metadata'];
    else if (replaceAll) delete doc['metadata'];
    touch(doc, ctx.now);
    saveJobSchedule(ctx, doc);
    return doc;
  });
}

/** PATCH /jobschedules/{id}: only the properties given change. */
export const patchJobSchedule = (ctx: BatchContext, scheduleId: string, body: Json, ifMatch?: (s: CloudJobSchedule) => void): CloudJobSchedule =>
  change(ctx, scheduleId, validateModel('JobSchedulePatchParameter', body), false, ifMatch);

/** PUT /jobschedules/{id}: schedule and jobSpecification are replaced; metadata left out is removed. */
export const updateJobSchedule = (ctx: BatchContext, scheduleId: string, body: Json, ifMatch?: (s: CloudJobSchedule) => void): CloudJobSchedule =>
  change(ctx, scheduleId, validateModel('JobScheduleUpdateParameter', body), true, ifMatch);
