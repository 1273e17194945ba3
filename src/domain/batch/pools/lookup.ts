import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudPool, Stored } from '../models.js';
import { isValidId } from '../validation.js';

/** The pool an operation addresses; PoolNotFound when there is none. */
export async function getPool(ctx: BatchContext, poolId: string): Promise<Stored<CloudPool>> {
  const pool = isValidId(poolId) ? await ctx.store.pools.get(ctx.account, poolId) : undefined;
  if (!pool) throw batchErrors.poolNotFound();
  return pool;
}

/** A pool that is not being deleted (most changes refuse a deleting pool). */
export async function getLivePool(ctx: BatchContext, poolId: string): Promise<Stored<CloudPool>> {
  const pool = await getPool(ctx, poolId);
  if (pool.doc.state === 'deleting') throw batchErrors.poolBeingDeleted();
  return pool;
}

export async function savePool(ctx: BatchContext, pool: CloudPool): Promise<void> {
  await ctx.store.pools.update(ctx.account, pool);
}
