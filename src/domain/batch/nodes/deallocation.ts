import type { BatchContext } from '../context.js';
import { parseDuration } from '../duration.js';
import type { CloudPool, ComputeNode } from '../models.js';

/**
 * What happens to a node's running tasks when it leaves its pool (resize down, removenodes) or
 * restarts (reboot, reimage), as ComputeNodeDeallocationOption / ComputeNodeRebootOption /
 * ComputeNodeReimageOption document it (docs/compatibility.md):
 * - requeue: its tasks are stopped and go back to the queue; the node goes at once.
 * - terminate: its tasks are stopped and complete with failureInfo (TaskEnded); the node goes at once.
 * - taskcompletion: its running tasks finish; it takes no new task; it goes when they have.
 * - retaineddata: as taskcompletion, then it waits for the retention time of every task that ran
 *   on it to pass before it goes.
 * The node shows the operation's state (`leavingpool`, `rebooting`, `reimaging`) from the request on.
 */
export type DeallocationOption = 'requeue' | 'terminate' | 'taskcompletion' | 'retaineddata';
export type NodeOperation = 'remove' | 'reboot' | 'reimage';

export interface PendingDeallocation {
  operation: NodeOperation;
  option: DeallocationOption;
  /** retaineddata, once the node's tasks have finished: when the last task's retention ends (ms). */
  retainedUntil?: number;
}

// Underscored: kept on the stored node, never shown by the API.
const KEY = '_deallocation';

export const STATE_OF: Record<NodeOperation, ComputeNode['state']> = { remove: 'leavingpool', reboot: 'rebooting', reimage: 'reimaging' };

export function beginDeallocation(node: ComputeNode, operation: NodeOperation, option: unknown): void {
  const pending: PendingDeallocation = { operation, option: (option as DeallocationOption | undefined) ?? 'requeue' };
  node[KEY] = pending;
}

export const pendingDeallocation = (node: ComputeNode): PendingDeallocation | undefined => node[KEY] as PendingDeallocation | undefined;

export function endDeallocation(node: ComputeNode): void {
  delete node[KEY];
}

/** When a node whose tasks have finished may go, if it waits for their retained data (ms since the epoch). */
export const retainedUntil = (node: ComputeNode): number | undefined => pendingDeallocation(node)?.retainedUntil;

/** Whether the node's running tasks are let finish (the node waits for them). */
export const letsTasksFinish = (option: DeallocationOption): boolean => option === 'taskcompletion' || option === 'retaineddata';

/** A node that waits for its running tasks (to finish, or to be killed and requeued) before it leaves or restarts. */
export function drainsTasks(node: ComputeNode): boolean {
  const pending = pendingDeallocation(node);
  return pending !== undefined && pending.option !== 'terminate';
}

/**
 * When the data of the tasks that ran on this node may go: the latest end of a completed task's
 * retentionTime (default 7 days, as Azure). Tasks deleted (or whose job was) keep no data.
 */
export async function retentionEnds(ctx: BatchContext, pool: CloudPool, nodeId: string): Promise<number> {
  let until = 0;
  for (const { pk } of await ctx.store.jobs.onPool(ctx.account, pool.id)) {
    for (const task of await ctx.store.tasks.inStates(pk, ['completed'])) {
      if (task.nodeInfo?.nodeId !== nodeId || !task.executionInfo.endTime) continue;
      const retention = parseDuration(task.constraints?.retentionTime ?? 'P7D') ?? 0;
      until = Math.max(until, Date.parse(task.executionInfo.endTime) + retention);
    }
  }
  return until;
}
