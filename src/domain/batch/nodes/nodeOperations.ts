import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, transition, type CloudPool, type ComputeNode, type Stored } from '../models.js';
import { beginDeallocation, STATE_OF } from './deallocation.js';
import { countPoolNodes } from './lifecycle.js';
import { getLivePool, getPool } from '../pools/lookup.js';
import { checkResizeTimeout, DEFAULT_RESIZE_TIMEOUT, startResizeClock } from '../pools/resizeTimeout.js';
import { validateModel, type Json } from '../schema/validate.js';
import { isValidId } from '../validation.js';

/** The node an operation addresses, and its pool; PoolNotFound or NodeNotFound otherwise. */
export async function getNode(ctx: BatchContext, poolId: string, nodeId: string): Promise<{ pool: Stored<CloudPool>; node: ComputeNode }> {
  const pool = await getPool(ctx, poolId);
  const node = isValidId(nodeId) ? await ctx.store.nodes.get(pool.pk, nodeId) : undefined;
  if (!node) throw batchErrors.nodeNotFound();
  return { pool, node: node.doc };
}

/**
 * Reboot and reimage: the node goes to `rebooting`/`reimaging` at once; the cluster stops or lets
 * finish its tasks as the option says (requeue by default; deallocation.ts), restarts it and
 * reports it back.
 */
async function restart(ctx: BatchContext, poolId: string, nodeId: string, body: Json, model: string, option: string, operation: 'reboot' | 'reimage'): Promise<void> {
  const params = validateModel(model, body ?? {});
  const changed = await ctx.store.tx(async () => {
    const { pool, node } = await getNode(ctx, poolId, nodeId);
    if (pool.doc.state === 'deleting') throw batchErrors.poolBeingDeleted();
    if (node.state === 'rebooting') throw batchErrors.nodeBeingRebooted();
    if (node.state === 'reimaging') throw batchErrors.nodeBeingReimaged();
    if (!['idle', 'running', 'starttaskfailed', 'unusable', 'offline'].includes(node.state)) {
      throw batchErrors.operationInvalidForCurrentState(`The node is ${node.state}.`);
    }
    transition(node, STATE_OF[operation], ctx.now);
    beginDeallocation(node, operation, params[option]);
    touch(node, ctx.now);
    await ctx.store.nodes.update(pool.pk, node);
    return { pool: pool.doc, node };
  });
  ctx.hooks.nodeChanged?.(ctx.account, changed.pool, changed.node);
}

export const rebootNode = async (ctx: BatchContext, poolId: string, nodeId: string, body: Json): Promise<void> =>
  await restart(ctx, poolId, nodeId, body, 'NodeRebootParameter', 'nodeRebootOption', 'reboot');

export const reimageNode = async (ctx: BatchContext, poolId: string, nodeId: string, body: Json): Promise<void> =>
  await restart(ctx, poolId, nodeId, body, 'NodeReimageParameter', 'nodeReimageOption', 'reimage');

/** Where disablescheduling leaves its option for the cluster (underscored: never shown by the API). */
export const PENDING_DISABLE = '_pendingDisableOption';

/** disablescheduling / enablescheduling: the scheduler gives new tasks only to enabled nodes. */
export async function setScheduling(ctx: BatchContext, poolId: string, nodeId: string, enabled: boolean, body: Json): Promise<void> {
  const params = enabled ? {} : validateModel('NodeDisableSchedulingParameter', body ?? {});
  const changed = await ctx.store.tx(async () => {
    const { pool, node } = await getNode(ctx, poolId, nodeId);
    node.schedulingState = enabled ? 'enabled' : 'disabled';
    if (!enabled) node[PENDING_DISABLE] = params['nodeDisableSchedulingOption'] ?? 'requeue';
    else delete node[PENDING_DISABLE];
    touch(node, ctx.now);
    await ctx.store.nodes.update(pool.pk, node);
    return { pool: pool.doc, node };
  });
  ctx.hooks.nodeChanged?.(ctx.account, changed.pool, changed.node);
}

/**
 * POST /pools/{id}/removenodes: the nodes leave the pool (`leavingpool`, their tasks as the
 * deallocation option says) and its targets shrink by as many; the pool is resizing until they
 * have gone.
 */
export async function removeNodes(ctx: BatchContext, poolId: string, body: Json): Promise<void> {
  const params = validateModel('NodeRemoveParameter', body);
  const list = params['nodeList'] as string[];
  if (list.length === 0) throw batchErrors.invalidProperty('nodeList', '[]', 'Name at least one node.');
  checkResizeTimeout(params['resizeTimeout']);
  const changed = await ctx.store.tx(async () => {
    const { pk, doc: pool } = await getLivePool(ctx, poolId);
    if (pool.allocationState !== 'steady') throw batchErrors.poolBeingResized();
    const nodes: ComputeNode[] = [];
    for (const id of list) {
      const node = isValidId(id) ? await ctx.store.nodes.get(pk, id) : undefined;
      if (!node) throw batchErrors.nodeNotFound();
      nodes.push(node.doc);
    }
    for (const node of nodes) {
      if (node.isDedicated) pool.targetDedicatedNodes = Math.max(0, (pool.targetDedicatedNodes ?? 0) - 1);
      else pool.targetLowPriorityNodes = Math.max(0, (pool.targetLowPriorityNodes ?? 0) - 1);
      transition(node, 'leavingpool', ctx.now);
      beginDeallocation(node, 'remove', params['nodeDeallocationOption']);
      touch(node, ctx.now);
      await ctx.store.nodes.update(pk, node);
    }
    delete pool.resizeErrors;
    // The removal has its own timeout (NodeRemoveParameter.resizeTimeout), not the pool's.
    startResizeClock(ctx, pool, (params['resizeTimeout'] as string | undefined) ?? DEFAULT_RESIZE_TIMEOUT);
    await countPoolNodes(ctx, pk, pool);
    touch(pool, ctx.now);
    await ctx.store.pools.update(ctx.account, pool);
    return { pool, nodes };
  });
  for (const node of changed.nodes) ctx.hooks.nodeChanged?.(ctx.account, changed.pool, node);
}

const COUNT_KEYS: Record<string, string> = {
  creating: 'creating',
  idle: 'idle',
  offline: 'offline',
  preempted: 'preempted',
  rebooting: 'rebooting',
  reimaging: 'reimaging',
  running: 'running',
  starting: 'starting',
  starttaskfailed: 'startTaskFailed',
  leavingpool: 'leavingPool',
  unknown: 'unknown',
  unusable: 'unusable',
  waitingforstarttask: 'waitingForStartTask',
};

function emptyCounts(): Record<string, number> {
  return Object.fromEntries([...Object.values(COUNT_KEYS), 'total'].map((k) => [k, 0]));
}

/** GET /nodecounts: per pool, its nodes by state, dedicated and low-priority apart. */
export async function poolNodeCounts(ctx: BatchContext): Promise<{ poolId: string; dedicated: Record<string, number>; lowPriority: Record<string, number> }[]> {
  return Promise.all(
    (await ctx.store.pools.all(ctx.account)).map(async ({ pk, doc }) => {
      const dedicated = emptyCounts();
      const lowPriority = emptyCounts();
      for (const row of await ctx.store.nodes.countByState(pk)) {
        const bucket = row.dedicated ? dedicated : lowPriority;
        const key = COUNT_KEYS[row.state] ?? 'unknown';
        bucket[key] = (bucket[key] ?? 0) + row.n;
        bucket['total'] = (bucket['total'] ?? 0) + row.n;
      }
      return { poolId: doc.id, dedicated, lowPriority };
    }),
  );
}
