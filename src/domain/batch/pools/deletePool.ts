import type { BatchContext } from '../context.js';
import { transition, touch, type CloudPool } from '../models.js';
import { getPool } from './lookup.js';

/**
 * DELETE /pools/{id}: the pool goes to `deleting` and its nodes leave; it is gone once it has no
 * nodes. With no nodes (no node agent yet, or none allocated) that is at once.
 */
export async function deletePool(ctx: BatchContext, poolId: string): Promise<void> {
  const pool = await ctx.store.tx(async () => {
    const { pk, doc } = await getPool(ctx, poolId);
    await beginPoolDeletion(ctx, pk, doc);
    return doc;
  });
  ctx.hooks.poolDeleting?.(ctx.account, pool);
}

/** Marks a pool deleting (it goes at once if it has no nodes). Called in a transaction; the caller tells the hooks. */
export async function beginPoolDeletion(ctx: BatchContext, poolPk: number, doc: CloudPool): Promise<void> {
  if (doc.state !== 'deleting') {
    transition(doc, 'deleting', ctx.now);
    touch(doc, ctx.now);
    await ctx.store.pools.update(ctx.account, doc);
  }
  await finishPoolDeletion(ctx, poolPk);
}

/** Removes a deleting pool whose nodes are all gone; the node agent calls it as nodes leave. */
export async function finishPoolDeletion(ctx: BatchContext, poolPk: number): Promise<boolean> {
  const pool = await ctx.store.pools.getByPk(poolPk);
  if (!pool || pool.doc.state !== 'deleting' || (await ctx.store.nodes.count(poolPk)) > 0) return false;
  await ctx.store.pools.delete(ctx.account, pool.doc.id);
  return true;
}
