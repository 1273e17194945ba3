import type { BatchContext } from '../context.js';
import { touch, type CloudPool } from '../models.js';

/**
 * The pool's allocation state follows its nodes: steady once the current node counts meet the
 * targets, resizing while they do not. The allocator of the next issue creates and removes node
 * records, then calls this; without it a pool whose targets are above zero stays resizing.
 */
export function reconcileAllocation(ctx: BatchContext, pool: CloudPool): void {
  const dedicated = pool.targetDedicatedNodes ?? 0;
  const lowPriority = pool.targetLowPriorityNodes ?? 0;
  const met = pool.enableAutoScale || (pool.currentDedicatedNodes === dedicated && pool.currentLowPriorityNodes === lowPriority);
  const to = met ? 'steady' : 'resizing';
  if (pool.allocationState !== to) {
    pool.allocationState = to;
    pool.allocationStateTransitionTime = ctx.now.toISOString();
  }
  touch(pool, ctx.now);
}

/** What an autoscale run reports: Kiln stores formulas but does not evaluate them yet. */
export function autoScaleNotEvaluated(ctx: BatchContext) {
  return {
    timestamp: ctx.now.toISOString(),
    error: {
      code: 'AutoScaleFormulaNotEvaluated',
      message: 'Kiln stores autoscale formulas but does not evaluate them yet; set targetDedicatedNodes with resize instead.',
      values: [],
    },
  };
}
