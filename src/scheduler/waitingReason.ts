import type { CloudJob, CloudTask } from '../domain/batch/models.js';
import type { BatchStore } from '../persistence/batch/store.js';
import { dependenciesMet, jobAcceptsTasks, withinParallelLimit } from './feasibility.js';

/** The property that carries it: Kiln's own, which Azure's SDKs ignore. */
export const WAITING_REASON = 'kilnWaitingReason';

/**
 * Why an active task is not running, in words: the same checks the scheduler makes, asked the
 * other way round. One instance serves a whole list page, remembering what holds for the job and
 * its pool.
 */
export class WaitingReasons {
  private readonly poolReasons = new Map<string, string | undefined>();

  constructor(
    private readonly store: BatchStore,
    private readonly account: string,
  ) {}

  /** The reason, or undefined if the task is not waiting (not active). */
  of(jobPk: number, job: CloudJob, task: CloudTask): string | undefined {
    if (task.state !== 'active') return undefined;
    const jobVerdict = jobAcceptsTasks(job);
    if (!jobVerdict.ok) return jobVerdict.reason;
    if (task.dependsOn) {
      const deps = dependenciesMet(this.store, jobPk, task);
      if (!deps.ok) return deps.reason;
    }
    const poolId = job.executionInfo.poolId ?? job.poolInfo.poolId;
    const poolReason = poolId ? this.pool(poolId) : 'NoPool: the job names no pool.';
    if (poolReason) return poolReason;
    const counts = this.store.tasks.counts(jobPk).taskCounts;
    const parallel = withinParallelLimit(job, counts.running);
    if (!parallel.ok) return parallel.reason;
    if (task.executionInfo.retryCount > 0 && task.previousState === 'running') return `Retrying: run ${task.executionInfo.retryCount + 1} waits for a free slot.`;
    return `NoFreeSlot: every task slot of pool ${poolId} is busy; the task runs when one frees up.`;
  }

  private pool(poolId: string): string | undefined {
    if (this.poolReasons.has(poolId)) return this.poolReasons.get(poolId);
    const reason = this.poolReason(poolId);
    this.poolReasons.set(poolId, reason);
    return reason;
  }

  private poolReason(poolId: string): string | undefined {
    const pool = this.store.pools.get(this.account, poolId);
    if (!pool) return `PoolNotFound: pool ${poolId} does not exist.`;
    if (pool.doc.state === 'deleting') return `PoolBeingDeleted: pool ${poolId} is being deleted.`;
    const states = new Map<string, number>();
    for (const row of this.store.nodes.countByState(pool.pk)) states.set(row.state, (states.get(row.state) ?? 0) + row.n);
    const total = [...states.values()].reduce((a, b) => a + b, 0);
    if (total === 0) return `NoNodes: pool ${poolId} has no compute nodes; resize it (targetDedicatedNodes) or start a kiln agent for it.`;
    if ((states.get('idle') ?? 0) + (states.get('running') ?? 0) > 0) return undefined;
    if (states.get('starttaskfailed') === total) return `StartTaskFailed: the start task failed on every node of pool ${poolId}; see the nodes' startTaskInfo.`;
    const starting = (states.get('creating') ?? 0) + (states.get('starting') ?? 0) + (states.get('waitingforstarttask') ?? 0);
    if (starting > 0) return `NodesStarting: the nodes of pool ${poolId} are still starting (or running their start task).`;
    return `NoUsableNode: no node of pool ${poolId} can take tasks (${[...states].map(([s, n]) => `${n} ${s}`).join(', ')}).`;
  }
}

/** Adds the reason to a stored task document, without parsing it when the task is not active. */
export function withWaitingReason(doc: string, reason: () => string | undefined): string {
  if (!doc.includes('"state":"active"')) return doc;
  const text = reason();
  return text === undefined ? doc : `${doc.slice(0, -1)},"${WAITING_REASON}":${JSON.stringify(text)}}`;
}
