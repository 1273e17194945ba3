import { iso, type BatchContext } from '../context.js';
import { UNLIMITED_DURATION } from '../duration.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudJob } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { newTaskDoc } from '../tasks/newTask.js';
import { checkId, checkJobSpec } from '../validation.js';
import { createAutoPool } from './autoPool.js';
import { applyOnAllTasksComplete } from './onAllTasksComplete.js';

/** A job document from a validated job specification (JobAddParameter or a schedule's). */
export function newJobDoc(ctx: BatchContext, id: string, spec: JsonObject): CloudJob {
  const now = iso(ctx);
  const poolInfo = spec['poolInfo'] as CloudJob['poolInfo'];
  const constraints = (spec['constraints'] as JsonObject | undefined) ?? {};
  const job: CloudJob = {
    ...spec,
    id,
    eTag: '',
    lastModified: now,
    creationTime: now,
    state: 'active',
    stateTransitionTime: now,
    priority: (spec['priority'] as number | undefined) ?? 0,
    maxParallelTasks: (spec['maxParallelTasks'] as number | undefined) ?? -1,
    allowTaskPreemption: (spec['allowTaskPreemption'] as boolean | undefined) ?? false,
    usesTaskDependencies: (spec['usesTaskDependencies'] as boolean | undefined) ?? false,
    onAllTasksComplete: (spec['onAllTasksComplete'] as CloudJob['onAllTasksComplete'] | undefined) ?? 'noaction',
    onTaskFailure: (spec['onTaskFailure'] as CloudJob['onTaskFailure'] | undefined) ?? 'noaction',
    constraints: {
      maxWallClockTime: (constraints['maxWallClockTime'] as string | undefined) ?? UNLIMITED_DURATION,
      maxTaskRetryCount: (constraints['maxTaskRetryCount'] as number | undefined) ?? 0,
    },
    poolInfo,
    executionInfo: { startTime: now, ...(poolInfo.poolId ? { poolId: poolInfo.poolId } : {}) },
  };
  const prep = spec['jobPreparationTask'] as JsonObject | undefined;
  if (prep) job.jobPreparationTask = { id: 'jobpreparation', waitForSuccess: true, rerunOnNodeRebootAfterSuccess: true, ...prep };
  const release = spec['jobReleaseTask'] as JsonObject | undefined;
  if (release) job.jobReleaseTask = { id: 'jobrelease', ...release };
  return job;
}

/**
 * Inserts a new job (with its auto pool and job manager task, if it has them) and applies
 * onAllTasksComplete at once: a terminatejob job without tasks is complete. In a transaction.
 */
export async function insertJob(ctx: BatchContext, job: CloudJob): Promise<number> {
  const existing = await ctx.store.jobs.get(ctx.account, job.id);
  if (existing) throw existing.doc.state === 'deleting' ? batchErrors.jobBeingDeleted() : batchErrors.jobExists();
  await createAutoPool(ctx, job);
  touch(job, ctx.now);
  const pk = await ctx.store.jobs.insert(ctx.account, job);
  const manager = job.jobManagerTask;
  if (manager) {
    const task = newTaskDoc(ctx, job, { ...manager, id: manager['id'] ?? 'jobmanager' } as unknown as JsonObject);
    task['jobManager'] = true;
    await ctx.store.tasks.insert(pk, task);
  } else {
    await applyOnAllTasksComplete(ctx, pk, job);
  }
  return pk;
}

/** POST /jobs. */
export async function addJob(ctx: BatchContext, body: Json): Promise<CloudJob> {
  const spec = validateModel('JobAddParameter', body);
  const id = checkId(spec['id']);
  checkJobSpec(spec, '');
  return await ctx.store.tx(async () => {
    if (await ctx.store.jobSchedules.exists(ctx.account, id)) throw batchErrors.jobScheduleWithSameIdExists();
    const job = newJobDoc(ctx, id, spec);
    await insertJob(ctx, job);
    return job;
  });
}
