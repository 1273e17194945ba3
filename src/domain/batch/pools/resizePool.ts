import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudPool } from '../models.js';
import { validateModel, type Json } from '../schema/validate.js';
import { checkTargets } from '../validation.js';
import { minutes, parseDuration } from '../duration.js';
import { reconcileAllocation } from './allocation.js';
import { getLivePool } from './lookup.js';

/** POST /pools/{id}/resize: new targets; the allocator (next issue) moves the nodes towards them. */
export function resizePool(ctx: BatchContext, poolId: string, body: Json, ifMatch?: (pool: CloudPool) => void): CloudPool {
  const params = validateModel('PoolResizeParameter', body);
  if (params['targetDedicatedNodes'] === undefined && params['targetLowPriorityNodes'] === undefined) {
    throw batchErrors.missingProperty('targetDedicatedNodes');
  }
  checkTargets(params, '');
  const timeout = params['resizeTimeout'];
  if (typeof timeout === 'string' && parseDuration(timeout)! < minutes(5)) {
    throw batchErrors.invalidProperty('resizeTimeout', timeout, 'The resize timeout must be at least 5 minutes.');
  }
  return ctx.store.tx(() => {
    const { doc } = getLivePool(ctx, poolId);
    ifMatch?.(doc);
    if (doc.enableAutoScale) throw batchErrors.autoScaleEnabled();
    if (doc.allocationState !== 'steady') throw batchErrors.poolBeingResized();
    if (params['targetDedicatedNodes'] !== undefined) doc.targetDedicatedNodes = params['targetDedicatedNodes'] as number;
    if (params['targetLowPriorityNodes'] !== undefined) doc.targetLowPriorityNodes = params['targetLowPriorityNodes'] as number;
    doc.resizeTimeout = (timeout as string | undefined) ?? 'PT15M';
    if (params['nodeDeallocationOption'] !== undefined) doc['nodeDeallocationOption'] = params['nodeDeallocationOption'];
    delete doc.resizeErrors;
    reconcileAllocation(ctx, doc);
    ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}

/**
 * POST /pools/{id}/stopresize: the pool stops where it is. The targets become the current counts,
 * so allocation is steady at once (with no allocation in flight there is nothing to wait for).
 */
export function stopResizePool(ctx: BatchContext, poolId: string, ifMatch?: (pool: CloudPool) => void): CloudPool {
  return ctx.store.tx(() => {
    const { doc } = getLivePool(ctx, poolId);
    ifMatch?.(doc);
    if (doc.allocationState === 'steady') throw batchErrors.poolNotResizing();
    doc.targetDedicatedNodes = doc.currentDedicatedNodes;
    doc.targetLowPriorityNodes = doc.currentLowPriorityNodes;
    reconcileAllocation(ctx, doc);
    ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}
