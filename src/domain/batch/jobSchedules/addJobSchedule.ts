import { iso, type BatchContext } from '../context.js';
import { UNLIMITED_DURATION } from '../duration.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudJobSchedule } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { unsupportedValueError } from '../unsupported.js';
import { checkId, checkJobScheduleSpec } from '../validation.js';
import { planFirstRun, runAndGet } from './runSchedules.js';

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

/**
 * An auto pool that lives as long as the schedule (poolLifetimeOption jobschedule: one pool shared by
 * all its jobs) is not implemented: refused, rather than made a pool per job. `job` works.
 */
export function checkScheduleAutoPool(spec: JsonObject | undefined): void {
  const auto = (spec?.['poolInfo'] as JsonObject | undefined)?.['autoPoolSpecification'] as JsonObject | undefined;
  const option = auto?.['poolLifetimeOption'];
  if (option === 'jobschedule') {
    throw unsupportedValueError(
      'jobSpecification.poolInfo.autoPoolSpecification.poolLifetimeOption',
      option,
      'Kiln does not support auto pools that live as long as the job schedule; use poolLifetimeOption job (a pool for each job).',
    );
  }
}

/** POST /jobschedules: stored with its first run planned, which is made at once when it is due now. */
export async function addJobSchedule(ctx: BatchContext, body: Json): Promise<CloudJobSchedule> {
  const params = validateModel('JobScheduleAddParameter', body);
  const id = checkId(params['id']);
  checkJobScheduleSpec(params);
  checkScheduleAutoPool(params['jobSpecification'] as JsonObject);
  await ctx.store.tx(async () => {
    const existing = await ctx.store.jobSchedules.get(ctx.account, id);
    if (existing) throw existing.doc.state === 'deleting' ? batchErrors.jobScheduleBeingDeleted() : batchErrors.jobScheduleExists();
    if (await ctx.store.jobs.exists(ctx.account, id)) throw batchErrors.jobWithSameIdExists();
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
    };
    planFirstRun(ctx, schedule);
    touch(schedule, ctx.now);
    await ctx.store.jobSchedules.insert(ctx.account, schedule);
  });
  return await runAndGet(ctx, id);
}
