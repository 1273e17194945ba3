import type { BatchContext } from '../context.js';
import { touch, type CloudPool } from '../models.js';
import { reconcileAllocation } from './allocation.js';
import { getLivePool } from './lookup.js';

/**
 * POST /pools/{id}/disableautoscale: the pool keeps its current size as its targets. Kiln creates
 * no autoscale pool (enableautoscale and evaluateautoscale are refused: protocol/batch/routes.ts),
 * but one stored by an earlier version can still be turned back.
 */
export async function disableAutoScale(ctx: BatchContext, poolId: string): Promise<CloudPool> {
  return await ctx.store.tx(async () => {
    const { doc } = await getLivePool(ctx, poolId);
    if (doc.enableAutoScale) {
      doc.enableAutoScale = false;
      delete doc.autoScaleFormula;
      delete doc.autoScaleEvaluationInterval;
      delete doc['autoScaleRun'];
      doc.targetDedicatedNodes = doc.currentDedicatedNodes;
      doc.targetLowPriorityNodes = doc.currentLowPriorityNodes;
      doc.resizeTimeout = doc.resizeTimeout ?? 'PT15M';
    }
    reconcileAllocation(ctx, doc);
    touch(doc, ctx.now);
    await ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}
