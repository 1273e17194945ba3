import type { BatchContext } from '../context.js';
import { touch, type CloudPool } from '../models.js';
import { clearResizeClock, hasResizeClock, startResizeClock } from './resizeTimeout.js';

/**
 * The pool's allocation state follows its nodes, as Azure's does: `resizing` from a resize or
 * removenodes until the current counts meet the targets and no node is still coming (`creating`)
 * or going (`leavingpool`: `settling` counts those); `steady` after. A stopped resize is
 * `stopping` until its nodes in flight have settled, then `steady` with a ResizeStopped error (or
 * AllocationTimedout, when its resizeTimeout stopped it: timeOutResizes.ts).
 * Autoscale pools are steady (formulas are not evaluated).
 */
export function reconcileAllocation(ctx: BatchContext, pool: CloudPool, settling = 0): void {
  const dedicated = pool.targetDedicatedNodes ?? 0;
  const lowPriority = pool.targetLowPriorityNodes ?? 0;
  const met = pool.enableAutoScale || (pool.currentDedicatedNodes === dedicated && pool.currentLowPriorityNodes === lowPriority);
  const stopping = pool.allocationState === 'stopping';
  const to = stopping ? (settling > 0 ? 'stopping' : 'steady') : met && settling === 0 ? 'steady' : 'resizing';
  if (pool.allocationState !== to) {
    pool.allocationState = to;
    pool.allocationStateTransitionTime = ctx.now.toISOString();
    // A resize has until its resizeTimeout (removenodes sets its own clock first).
    if (to === 'resizing' && !hasResizeClock(pool)) startResizeClock(ctx, pool);
    if (to === 'steady') {
      clearResizeClock(pool);
      // resizeErrors are reported once the pool is steady (CloudPool.resizeErrors).
      if (stopping) pool.resizeErrors = [(pool[STOPPED_BY] as ResizeError | undefined) ?? RESIZE_STOPPED];
      delete pool[STOPPED_BY];
    }
  }
  touch(pool, ctx.now);
}

export interface ResizeError {
  code: string;
  message: string;
}

/** PoolResizeErrorCodes.ResizeStopped: the user stopped the resize operation. */
export const RESIZE_STOPPED: ResizeError = {
  code: 'ResizeStopped',
  message: 'The resize of the pool was stopped by the user before the pool reached its target node counts.',
};

/**
 * PoolResizeErrorCodes.AllocationTimedOut, whose value is `AllocationTimedout` (the Batch SDKs'
 * constant): the nodes could not be allocated, or removed, within the resize timeout.
 */
export const ALLOCATION_TIMED_OUT: ResizeError = {
  code: 'AllocationTimedout',
  message: 'The desired number of nodes could not be allocated within the resize timeout.',
};

/** Why a `stopping` pool stopped: the resize error it reports once steady (underscored: not shown). */
export const STOPPED_BY = '_stoppedBy';
