import { randomUUID } from 'node:crypto';
import { poolDeletingAfterCommit, type BatchContext } from '../context.js';
import type { CloudJob } from '../models.js';
import { newPoolDoc } from '../pools/addPool.js';
import { beginPoolDeletion } from '../pools/deletePool.js';
import type { JsonObject } from '../schema/validate.js';

/**
 * A job with poolInfo.autoPoolSpecification gets its own pool, made with the job (id: the prefix,
 * an underscore and a GUID, as Azure names them) and deleted with it unless keepAlive.
 */
export async function createAutoPool(ctx: BatchContext, job: CloudJob): Promise<void> {
  const spec = job.poolInfo.autoPoolSpecification as JsonObject | undefined;
  if (!spec) return;
  const prefix = typeof spec['autoPoolIdPrefix'] === 'string' ? spec['autoPoolIdPrefix'] : '';
  const id = `${prefix ? `${prefix}_` : ''}${randomUUID()}`.slice(0, 64);
  const pool = newPoolDoc(ctx, id, (spec['pool'] as JsonObject | undefined) ?? {});
  pool['autoPoolForJob'] = job.id;
  await ctx.store.pools.insert(ctx.account, pool);
  job.executionInfo.poolId = id;
}

/** Deletes a job's auto pool when its lifetime ends with the job (poolLifetimeOption job, no keepAlive). */
export async function releaseAutoPool(ctx: BatchContext, job: CloudJob, reason: 'completed' | 'deleted'): Promise<void> {
  const spec = job.poolInfo.autoPoolSpecification;
  const poolId = job.executionInfo.poolId;
  if (!spec || !poolId || spec['keepAlive'] === true) return;
  if (spec['poolLifetimeOption'] === 'jobschedule' && reason === 'completed') return;
  const pool = await ctx.store.pools.get(ctx.account, poolId);
  if (!pool) return;
  // Called inside the job's change: the pool's nodes leave once that has committed.
  await beginPoolDeletion(ctx, pool.pk, pool.doc);
  poolDeletingAfterCommit(ctx, pool.doc);
}
