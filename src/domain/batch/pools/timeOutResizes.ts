import type { BatchContext } from '../context.js';
import type { ComputeNode } from '../models.js';
import { ALLOCATION_TIMED_OUT, RESIZE_STOPPED, STOPPED_BY, type ResizeError } from './allocation.js';
import { stopAllocation } from './resizePool.js';
import { clearResizeClock, resizeDeadline } from './resizeTimeout.js';

export interface ResizeTimeouts {
  /** The pools whose resize timed out now. */
  timedOut: string[];
  /** The next deadline of a resize still in progress (ms since the epoch), if any. */
  wakeAt?: number;
}

/**
 * The account's resizes whose resizeTimeout has passed at ctx.now stop, as on Azure: the pool keeps
 * the nodes it has and goes `steady` with an AllocationTimedout resize error (`stopping` first,
 * while nodes already leaving still go). A node the pool was given but that never joined (still
 * `creating`: its agent never came) is not one it has: its record goes. A pool already stopping
 * (stopResize) at its deadline loses such nodes too, and keeps its ResizeStopped error.
 */
export async function timeOutResizes(ctx: BatchContext): Promise<ResizeTimeouts> {
  const out: ResizeTimeouts = { timedOut: [] };
  const now = ctx.now.getTime();
  for (const { pk, doc } of await ctx.store.pools.all(ctx.account)) {
    const deadline = resizeDeadline(doc);
    if (deadline === undefined || doc.state === 'deleting') continue;
    if (deadline > now) {
      out.wakeAt = Math.min(out.wakeAt ?? Infinity, deadline);
      continue;
    }
    const timedOut = await ctx.store.tx(async () => {
      // Read again in the transaction: the resize may have ended since the list was read.
      const pool = (await ctx.store.pools.getByPk(pk))?.doc;
      if (!pool || resizeDeadline(pool) === undefined) return false;
      clearResizeClock(pool);
      if (pool.allocationState === 'steady') {
        await ctx.store.pools.update(ctx.account, pool);
        return false;
      }
      for (const row of await ctx.store.nodes.list(pk, { limit: 1_000_000 })) {
        const node = JSON.parse(row.doc) as ComputeNode;
        if (node.state === 'creating') await ctx.store.nodes.delete(pk, node.id);
      }
      // Its targets become the nodes it keeps, or the local nodes would make the dropped ones again.
      const error = pool.allocationState === 'stopping' ? ((pool[STOPPED_BY] as ResizeError | undefined) ?? RESIZE_STOPPED) : ALLOCATION_TIMED_OUT;
      await stopAllocation(ctx, pk, pool, error);
      return true;
    });
    if (timedOut) out.timedOut.push(doc.id);
  }
  return out;
}
