import { randomBytes } from 'node:crypto';
import type { BatchContext } from '../context.js';
import { touch, transition, type CloudPool, type ComputeNode, type FailureInfo, type NodeState } from '../models.js';
import { findVmSize } from '../catalog.js';
import { reconcileAllocation } from '../pools/allocation.js';
import { drainsTasks, endDeallocation } from './deallocation.js';

/**
 * A compute node's life as the Batch service records it: created for a pool, joined by an agent,
 * through its start task to idle, running tasks, lost, removed. Each function runs inside the
 * caller's transaction and saves the node.
 */

export interface StartTaskInfo {
  state: 'running' | 'completed';
  startTime: string;
  endTime?: string;
  exitCode?: number;
  failureInfo?: FailureInfo;
  retryCount: number;
  lastRetryTime?: string;
  result?: 'success' | 'failure';
}

const stamp = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'z')
    .toLowerCase();

/** Azure-style node ids: tvm-<digits>_<n>-<creation time>. */
export function newNodeId(now: Date, n: number): string {
  return `tvm-${randomBytes(5).readUInt32BE(0) % 10_000_000_000}_${n}-${stamp(now)}`;
}

export function newNodeDoc(ctx: BatchContext, pool: CloudPool, nodeId: string, isDedicated: boolean): ComputeNode {
  const now = ctx.now.toISOString();
  const node: ComputeNode = {
    id: nodeId,
    state: 'creating',
    schedulingState: 'enabled',
    stateTransitionTime: now,
    allocationTime: now,
    creationTime: now,
    lastModified: now,
    eTag: '',
    ipAddress: '127.0.0.1',
    affinityId: `TVM:${nodeId}`,
    vmSize: pool.vmSize,
    isDedicated,
    totalTasksRun: 0,
    totalTasksSucceeded: 0,
    runningTasksCount: 0,
    runningTaskSlotsCount: 0,
    nodeAgentInfo: { version: 'kiln-1.0', lastUpdateTime: now },
  };
  touch(node, ctx.now);
  return node;
}

export async function saveNode(ctx: BatchContext, poolPk: number, node: ComputeNode): Promise<void> {
  touch(node, ctx.now);
  await ctx.store.nodes.update(poolPk, node);
}

/** A pool's nodes by kind: all of them (Azure's current counts), and those leaving or still coming. */
async function nodesOfPool(ctx: BatchContext, poolPk: number) {
  const counts = { dedicated: 0, lowPriority: 0, leaving: { dedicated: 0, lowPriority: 0 }, settling: 0 };
  for (const row of await ctx.store.nodes.countByState(poolPk)) {
    const kind = row.dedicated ? 'dedicated' : 'lowPriority';
    counts[kind] += row.n;
    if (row.state === 'leavingpool') counts.leaving[kind] += row.n;
    if (row.state === 'leavingpool' || row.state === 'creating') counts.settling += row.n;
  }
  return counts;
}

/**
 * Records the nodes a pool has, and so its allocation state. A node leaving the pool is still in
 * it (current counts, /nodecounts `leavingPool`) until it has gone, and keeps the pool resizing.
 */
export async function countPoolNodes(ctx: BatchContext, poolPk: number, pool: CloudPool): Promise<void> {
  const counts = await nodesOfPool(ctx, poolPk);
  const before = [pool.currentDedicatedNodes, pool.currentLowPriorityNodes, pool.allocationState, pool.targetDedicatedNodes, pool.targetLowPriorityNodes].join();
  pool.currentDedicatedNodes = counts.dedicated;
  pool.currentLowPriorityNodes = counts.lowPriority;
  const { eTag, lastModified } = pool;
  reconcileAllocation(ctx, pool, counts.settling);
  // Recounting is frequent (every reconcile of the local nodes); only a real change is a new version
  // of the pool, with a new eTag and lastModified.
  if ([pool.currentDedicatedNodes, pool.currentLowPriorityNodes, pool.allocationState, pool.targetDedicatedNodes, pool.targetLowPriorityNodes].join() === before) {
    pool.eTag = eTag;
    pool.lastModified = lastModified;
    return;
  }
  await ctx.store.pools.update(ctx.account, pool);
}

/** The nodes a pool keeps: its current counts less those leaving it (what a stopped resize stays at). */
export async function keptNodes(ctx: BatchContext, poolPk: number): Promise<{ dedicated: number; lowPriority: number }> {
  const counts = await nodesOfPool(ctx, poolPk);
  return { dedicated: counts.dedicated - counts.leaving.dedicated, lowPriority: counts.lowPriority - counts.leaving.lowPriority };
}

/**
 * A node the pool did not ask for joined it (a `kiln agent` started by hand, with no record made for
 * it beforehand). It counts towards the pool's targets, so a pool already at its target grows by it:
 * otherwise the pool would stay `resizing` for good, refusing resize and removenodes. Called before
 * the node is stored, then countPoolNodes.
 */
export async function unplannedNodeJoining(ctx: BatchContext, poolPk: number, pool: CloudPool, isDedicated: boolean): Promise<void> {
  if (pool.enableAutoScale) return;
  const kept = await keptNodes(ctx, poolPk);
  if (isDedicated) {
    if (kept.dedicated >= (pool.targetDedicatedNodes ?? 0)) pool.targetDedicatedNodes = kept.dedicated + 1;
  } else if (kept.lowPriority >= (pool.targetLowPriorityNodes ?? 0)) {
    pool.targetLowPriorityNodes = kept.lowPriority + 1;
  }
}

/**
 * An agent has (re)joined as this node: it starts over, with its start task if the pool has one.
 * With waitForSuccess the node takes no task before the start task succeeds.
 */
export async function nodeJoined(ctx: BatchContext, poolPk: number, pool: CloudPool, node: ComputeNode): Promise<void> {
  const now = ctx.now.toISOString();
  transition(node, 'starting', ctx.now);
  endDeallocation(node);
  node['lastBootTime'] = now;
  node.runningTasksCount = 0;
  node.runningTaskSlotsCount = 0;
  const startTask = pool['startTask'] as { waitForSuccess?: boolean } | undefined;
  if (startTask) {
    node['startTask'] = startTask;
    const info: StartTaskInfo = { state: 'running', startTime: now, retryCount: 0 };
    node['startTaskInfo'] = info;
    transition(node, startTask.waitForSuccess === false ? 'idle' : 'waitingforstarttask', ctx.now);
  } else {
    delete node['startTask'];
    delete node['startTaskInfo'];
    transition(node, 'idle', ctx.now);
  }
  await saveNode(ctx, poolPk, node);
}

/**
 * The start task has ended. Returns true when it is to run again (a failure with retries left);
 * otherwise the node becomes idle, or starttaskfailed if it was waiting for success.
 */
export async function startTaskEnded(
  ctx: BatchContext,
  poolPk: number,
  node: ComputeNode,
  outcome: { exitCode?: number; failureInfo?: FailureInfo; startTime: string },
): Promise<boolean> {
  const info = (node['startTaskInfo'] ?? { retryCount: 0 }) as StartTaskInfo;
  const startTask = (node['startTask'] ?? {}) as { maxTaskRetryCount?: number; waitForSuccess?: boolean };
  const failed = outcome.failureInfo !== undefined || (outcome.exitCode ?? 0) !== 0;
  const max = startTask.maxTaskRetryCount ?? 0;
  if (failed && (max === -1 || info.retryCount < max)) {
    info.retryCount += 1;
    info.lastRetryTime = ctx.now.toISOString();
    info.state = 'running';
    node['startTaskInfo'] = info;
    await saveNode(ctx, poolPk, node);
    return true;
  }
  info.state = 'completed';
  info.startTime = outcome.startTime;
  info.endTime = ctx.now.toISOString();
  if (outcome.exitCode !== undefined) info.exitCode = outcome.exitCode;
  if (outcome.failureInfo) info.failureInfo = outcome.failureInfo;
  info.result = failed ? 'failure' : 'success';
  node['startTaskInfo'] = info;
  if (node.state === 'waitingforstarttask') transition(node, failed ? 'starttaskfailed' : 'idle', ctx.now);
  await saveNode(ctx, poolPk, node);
  return false;
}

/**
 * Keeps a node's running/idle state and counters in step with what it runs. A node that waited for
 * its tasks to finish before it leaves or restarts (taskcompletion, retaineddata) is told of, once
 * this change has committed, when its last task has ended.
 */
export async function setNodeLoad(ctx: BatchContext, poolPk: number, node: ComputeNode, tasks: number, slots: number, finished: { run: number; succeeded: number }): Promise<void> {
  node.runningTasksCount = tasks;
  node.runningTaskSlotsCount = slots;
  node.totalTasksRun += finished.run;
  node.totalTasksSucceeded += finished.succeeded;
  if (node.state === 'idle' && tasks > 0) transition(node, 'running', ctx.now);
  else if (node.state === 'running' && tasks === 0) transition(node, 'idle', ctx.now);
  await saveNode(ctx, poolPk, node);
  const hook = ctx.hooks.nodeChanged;
  const pool = tasks === 0 && drainsTasks(node) && hook ? (await ctx.store.pools.getByPk(poolPk))?.doc : undefined;
  if (pool) ctx.store.afterCommit(() => hook!(ctx.account, pool, node));
}

/** The node stopped answering: it is unusable until its agent comes back. */
export async function nodeLost(ctx: BatchContext, poolPk: number, node: ComputeNode): Promise<void> {
  node.runningTasksCount = 0;
  node.runningTaskSlotsCount = 0;
  transition(node, 'unusable', ctx.now);
  await saveNode(ctx, poolPk, node);
}

export async function setNodeState(ctx: BatchContext, poolPk: number, node: ComputeNode, state: NodeState): Promise<void> {
  transition(node, state, ctx.now);
  await saveNode(ctx, poolPk, node);
}

/** Task slots a node of this pool offers. */
export const slotsPerNode = (pool: CloudPool): number => pool.taskSlotsPerNode ?? 1;

/** Cores of the pool's VM size, for AZ_BATCH_* and for checking taskSlotsPerNode. */
export const coresOf = (pool: CloudPool): number => findVmSize(pool.vmSize)?.cores ?? 1;
