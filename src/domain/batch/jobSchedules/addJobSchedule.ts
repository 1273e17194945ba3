import { iso, type BatchContext } from '../context.js';
import { UNLIMITED_DURATION } from '../duration.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudJobSchedule } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkId, checkJobScheduleSpec } from '../validation.js';

/**
 * Kiln keeps job schedules (add, change, disable, terminate, delete) but does not yet create jobs
 * on their recurrence. Each schedule says so, in a property SDKs ignore, rather than show a
 * nextRunTime that would never come.
 */
export const KILN_NOTE = 'Kiln does not create jobs from job schedules yet: this schedule is stored and its state is kept, but no job is created on its recurrence.';

/** A schedule's jobSpecification with the defaults the jobs made from it would have. */
export function withJobDefaults(spec: JsonObject): JsonObject {
  const constraints = (spec['constraints'] as JsonObject | undefined) ?? {};
  return {
    ...spec,
    priority: spec['priority'] ?? 0,
    maxParallelTasks: spec['maxParallelTasks'] ?? -1,
    allowTaskPreemption: spec['allowTaskPreemption'] ?? false,
    usesTaskDependencies: spec['usesTaskDependencies'] ?? false,
    onAllTasksComplete: spec['onAllTasksComplete'] ?? 'noaction',
    onTaskFailure: spec['onTaskFailure'] ?? 'noaction',
    constraints: {
      maxWallClockTime: constraints['maxWallClockTime'] ?? UNLIMITED_DURATION,
      maxTaskRetryCount: constraints['maxTaskRetryCount'] ?? 0,
    },
  };
}

/** POST /jobschedules. */
export function addJobSchedule(ctx: BatchContext, body: Json): CloudJobSchedule {
  const params = validateModel('JobScheduleAddParameter', body);
  const id = checkId(params['id']);
  checkJobScheduleSpec(params);
  return ctx.store.tx(() => {
    const existing = ctx.store.jobSchedules.get(ctx.account, id);
    if (existing) throw existing.doc.state === 'deleting' ? batchErrors.jobScheduleBeingDeleted() : batchErrors.jobScheduleExists();
    const now = iso(ctx);
    const schedule: CloudJobSchedule = {
      ...params,
      id,
      eTag: '',
      lastModified: now,
      creationTime: now,
      state: 'active',
      stateTransitionTime: now,
      schedule: params['schedule'] as CloudJobSchedule['schedule'],
      jobSpecification: withJobDefaults(params['jobSpecification'] as JsonObject),
      executionInfo: {},
      kilnNote: KILN_NOTE,
    };
    touch(schedule, ctx.now);
    ctx.store.jobSchedules.insert(ctx.account, schedule);
    return schedule;
  });
}
