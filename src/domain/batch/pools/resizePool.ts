import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudPool } from '../models.js';
import { validateModel, type Json } from '../schema/validate.js';
import { checkTargets } from '../validation.js';
import { RESIZE_STOPPED, STOPPED_BY, reconcileAllocation, type ResizeError } from './allocation.js';
import { checkResizeTimeout, DEFAULT_RESIZE_TIMEOUT } from './resizeTimeout.js';
import { getLivePool } from './lookup.js';
import { countPoolNodes, keptNodes } from '../nodes/lifecycle.js';

/**
 * POST /pools/{id}/resize: new targets; the pool is resizing until its nodes meet them (the local
 * nodes, or the allocator of the scale-out issue, add and remove nodes, then countPoolNodes).
 */
export async function resizePool(ctx: BatchContext, poolId: string, body: Json, ifMatch?: (pool: CloudPool) => void): Promise<CloudPool> {
  const params = validateModel('PoolResizeParameter', body);
  if (params['targetDedicatedNodes'] === undefined && params['targetLowPriorityNodes'] === undefined) {
    throw batchErrors.missingProperty('targetDedicatedNodes');
  }
  checkTargets(params, '');
  const timeout = params['resizeTimeout'];
  checkResizeTimeout(timeout);
  return await ctx.store.tx(async () => {
    const { doc } = await getLivePool(ctx, poolId);
    ifMatch?.(doc);
    if (doc.enableAutoScale) throw batchErrors.autoScaleEnabled();
    if (doc.allocationState !== 'steady') throw batchErrors.poolBeingResized();
    if (params['targetDedicatedNodes'] !== undefined) doc.targetDedicatedNodes = params['targetDedicatedNodes'] as number;
    if (params['targetLowPriorityNodes'] !== undefined) doc.targetLowPriorityNodes = params['targetLowPriorityNodes'] as number;
    doc.resizeTimeout = (timeout as string | undefined) ?? DEFAULT_RESIZE_TIMEOUT;
    // What becomes of the nodes this resize removes (localNodes.ts reads it; underscored: not shown).
    doc[RESIZE_DEALLOCATION] = params['nodeDeallocationOption'] ?? 'requeue';
    delete doc['nodeDeallocationOption'];
    delete doc.resizeErrors;
    reconcileAllocation(ctx, doc);
    await ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}

/** The deallocation option of the pool's last resize, kept on the stored pool. */
export const RESIZE_DEALLOCATION = '_nodeDeallocationOption';

/**
 * POST /pools/{id}/stopresize: the pool keeps the nodes it has and is `stopping` until the nodes
 * in flight have settled, then `steady` with a ResizeStopped resize error. 409 when it is not resizing.
 */
export async function stopResizePool(ctx: BatchContext, poolId: string, ifMatch?: (pool: CloudPool) => void): Promise<CloudPool> {
  return await ctx.store.tx(async () => {
    const { pk, doc } = await getLivePool(ctx, poolId);
    ifMatch?.(doc);
    if (doc.allocationState !== 'resizing') throw batchErrors.poolNotResizing();
    await stopAllocation(ctx, pk, doc, RESIZE_STOPPED);
    return doc;
  });
}

/**
 * Stops a resize (stopResize, or its resizeTimeout passing): the pool's targets become its current
 * counts, less nodes already leaving, which still go; it is `stopping` until the nodes in flight
 * have settled, then `steady` with `error` in its resizeErrors. Saves the pool; in a transaction.
 */
export async function stopAllocation(ctx: BatchContext, poolPk: number, pool: CloudPool, error: ResizeError): Promise<void> {
  const kept = await keptNodes(ctx, poolPk);
  pool.targetDedicatedNodes = kept.dedicated;
  pool.targetLowPriorityNodes = kept.lowPriority;
  pool.allocationState = 'stopping';
  pool.allocationStateTransitionTime = ctx.now.toISOString();
  pool[STOPPED_BY] = error;
  await countPoolNodes(ctx, poolPk, pool);
  touch(pool, ctx.now);
  await ctx.store.pools.update(ctx.account, pool);
}
