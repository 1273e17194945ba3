import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudPool, Stored } from '../models.js';
import { isValidId } from '../validation.js';

/** The pool an operation addresses; PoolNotFound when there is none. */
export function getPool(ctx: BatchContext, poolId: string): Stored<CloudPool> {
  const pool = isValidId(poolId) ? ctx.store.pools.get(ctx.account, poolId) : undefined;
  if (!pool) throw batchErrors.poolNotFound();
  return pool;
}

/** A pool that is not being deleted (most changes refuse a deleting pool). */
export function getLivePool(ctx: BatchContext, poolId: string): Stored<CloudPool> {
  const pool = getPool(ctx, poolId);
  if (pool.doc.state === 'deleting') throw batchErrors.poolBeingDeleted();
  return pool;
}

export function savePool(ctx: BatchContext, pool: CloudPool): void {
  ctx.store.pools.update(ctx.account, pool);
}
