import type { BatchContext } from '../context.js';
import { UNLIMITED_DURATION } from '../duration.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudJob } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkJobSpec } from '../validation.js';
import { getChangeableJob, saveJob } from './lookup.js';
import { applyOnAllTasksComplete } from './onAllTasksComplete.js';

const DEFAULTS = {
  priority: 0,
  maxParallelTasks: -1,
  allowTaskPreemption: false,
  onAllTasksComplete: 'noaction',
} as const;

function apply(ctx: BatchContext, job: CloudJob, changes: JsonObject, replaceAll: boolean): void {
  const poolInfo = changes['poolInfo'] as CloudJob['poolInfo'] | undefined;
  if (poolInfo && JSON.stringify(poolInfo) !== JSON.stringify(job.poolInfo)) {
    // Azure moves a job to another pool only while it is disabled.
    if (job.state !== 'disabled') throw batchErrors.operationInvalidForCurrentState('The pool of a job can only change while the job is disabled.');
    job.poolInfo = poolInfo;
    if (poolInfo.poolId) job.executionInfo.poolId = poolInfo.poolId;
  }
  for (const [name, fallback] of Object.entries(DEFAULTS)) {
    if (changes[name] !== undefined) job[name] = changes[name];
    else if (replaceAll) job[name] = fallback;
  }
  const constraints = changes['constraints'] as JsonObject | undefined;
  if (constraints || replaceAll) {
    job.constraints = {
      maxWallClockTime: (constraints?.['maxWallClockTime'] as string | undefined) ?? UNLIMITED_DURATION,
      maxTaskRetryCount: (constraints?.['maxTaskRetryCount'] as number | undefined) ?? 0,
    };
  }
  if (changes['metadata'] !== undefined) job.metadata = changes['metadata'] as CloudJob['metadata'];
  else if (replaceAll) delete job.metadata;
  touch(job, ctx.now);
}

async function change(ctx: BatchContext, jobId: string, changes: JsonObject, replaceAll: boolean, ifMatch?: (job: CloudJob) => void): Promise<CloudJob> {
  checkJobSpec(changes, '');
  return await ctx.store.tx(async () => {
    const { pk, doc } = await getChangeableJob(ctx, jobId);
    ifMatch?.(doc);
    apply(ctx, doc, changes, replaceAll);
    await saveJob(ctx, doc);
    await applyOnAllTasksComplete(ctx, pk, doc);
    return doc;
  });
}

/** PATCH /jobs/{id}: only the properties given change. */
export const patchJob = async (ctx: BatchContext, jobId: string, body: Json, ifMatch?: (job: CloudJob) => void): Promise<CloudJob> =>
  await change(ctx, jobId, validateModel('JobPatchParameter', body), false, ifMatch);

/** PUT /jobs/{id}: the updatable properties are replaced; those left out return to their defaults. */
export const updateJob = async (ctx: BatchContext, jobId: string, body: Json, ifMatch?: (job: CloudJob) => void): Promise<CloudJob> =>
  await change(ctx, jobId, validateModel('JobUpdateParameter', body), true, ifMatch);
