import { preparationFailedOn } from '../domain/batch/jobs/nodeTaskStatus.js';
import type { CloudJob, CloudPool, CloudTask, ComputeNode } from '../domain/batch/models.js';
import type { BatchStore } from '../domain/batch/store.js';
import { allowsLowPriority, dependenciesMet, fitsPool, jobAcceptsTasks, nodeIsUp, runsExclusive, withinParallelLimit } from './feasibility.js';

/** The property that carries it: Kiln's own, which Azure's SDKs ignore. */
export const WAITING_REASON = 'kilnWaitingReason';

/** What a reason needs to know of a pool: its document and its nodes. Read once per page. */
interface PoolView {
  pool: CloudPool;
  nodes: ComputeNode[];
}

/**
 * Why an active task is not running, in words: the same checks the scheduler makes, asked the
 * other way round, from the most lasting cause to the most passing. One instance serves a whole
 * list page, remembering what it read of the job's pool.
 */
export class WaitingReasons {
  private readonly pools = new Map<string, PoolView | string>();
  private readonly runningByJob = new Map<number, Promise<number>>();

  constructor(
    private readonly store: BatchStore,
    private readonly account: string,
  ) {}

  /** The reason, or undefined if the task is not waiting (not active). */
  async of(jobPk: number, job: CloudJob, task: CloudTask): Promise<string | undefined> {
    if (task.state !== 'active') return undefined;
    const jobVerdict = jobAcceptsTasks(job);
    if (!jobVerdict.ok) return jobVerdict.reason;
    if (task.dependsOn) {
      const deps = await dependenciesMet(this.store, jobPk, task);
      if (!deps.ok) return deps.reason;
    }
    const poolId = job.executionInfo.poolId ?? job.poolInfo.poolId;
    if (!poolId) return 'NoPool: the job names no pool.';
    const view = await this.pool(poolId);
    if (typeof view === 'string') return view;
    const fits = fitsPool(view.pool, task);
    if (!fits.ok) return fits.reason;
    const nodesReason = this.nodesReason(view, job, task);
    if (nodesReason) return nodesReason;
    const parallel = withinParallelLimit(job, await this.running(jobPk));
    if (!parallel.ok) return parallel.reason;
    if (task.executionInfo.retryCount > 0 && task.previousState === 'running') return `Retrying: run ${task.executionInfo.retryCount + 1} waits for a free slot.`;
    if (runsExclusive(task)) return `NoFreeNode: the job manager task runs exclusively (runExclusive) and waits for a node of pool ${poolId} that runs nothing else.`;
    const slots = task.requiredSlots ?? 1;
    return `NoFreeSlot: every node of pool ${poolId} that can run the task is busy; it runs when ${slots === 1 ? 'a slot frees' : `${slots} slots free on one node`}.`;
  }

  /** The job's running tasks, counted once per page (a count reads every task of the job). */
  private running(jobPk: number): Promise<number> {
    let running = this.runningByJob.get(jobPk);
    if (running === undefined) {
      running = this.store.tasks.counts(jobPk).then((c) => c.taskCounts.running);
      this.runningByJob.set(jobPk, running);
    }
    return running;
  }

  private async pool(poolId: string): Promise<PoolView | string> {
    const key = poolId.toLowerCase();
    let view = this.pools.get(key);
    if (view === undefined) {
      view = await this.readPool(poolId);
      this.pools.set(key, view);
    }
    return view;
  }

  private async readPool(poolId: string): Promise<PoolView | string> {
    const pool = await this.store.pools.get(this.account, poolId);
    if (!pool) return `PoolNotFound: pool ${poolId} does not exist.`;
    if (pool.doc.state === 'deleting') return `PoolBeingDeleted: pool ${poolId} is being deleted.`;
    const nodes = (await this.store.nodes.list(pool.pk, { limit: 1_000_000 })).map((r) => JSON.parse(r.doc) as ComputeNode);
    return { pool: pool.doc, nodes };
  }

  /** Why no node of the pool can take this task of this job at all, or undefined if one could. */
  private nodesReason({ pool, nodes }: PoolView, job: CloudJob, task: CloudTask): string | undefined {
    if (nodes.length === 0) {
      // An autoscale pool's size is its formula's to set: the user does not resize it.
      return pool.enableAutoScale
        ? `NoNodes: pool ${pool.id} has no compute nodes; its autoscale formula sets how many it has.`
        : `NoNodes: pool ${pool.id} has no compute nodes; resize it (targetDedicatedNodes) or start a kiln agent for it.`;
    }
    const up = nodes.filter(nodeIsUp);
    if (up.length === 0) return notUp(pool.id, nodes);
    const enabled = up.filter((n) => n.schedulingState === 'enabled');
    if (enabled.length === 0)
      return `NodeSchedulingDisabled: task scheduling is disabled on every node of pool ${pool.id} that is up; enable it (enablescheduling) to run tasks there.`;
    const failed = job.jobPreparationTask ? preparationFailedOn(job) : undefined;
    const eligible = failed?.size ? enabled.filter((n) => !failed.has(n.id.toLowerCase())) : enabled;
    if (eligible.length === 0) {
      return `JobPreparationTaskFailed: the job preparation task failed on every node of pool ${pool.id} that can take tasks; a node stays ineligible for the job's tasks until it is reimaged.`;
    }
    if (!allowsLowPriority(task) && !eligible.some((n) => n.isDedicated)) {
      return `NoDedicatedNode: the job manager task does not allow low-priority nodes (allowLowPriorityNode), and pool ${pool.id} has no dedicated node that can take it.`;
    }
    return undefined;
  }
}

/** Why none of a pool's nodes is up: the state they are in. */
function notUp(poolId: string, nodes: ComputeNode[]): string {
  const states = new Map<string, number>();
  for (const n of nodes) states.set(n.state, (states.get(n.state) ?? 0) + 1);
  if (states.get('starttaskfailed') === nodes.length) return `StartTaskFailed: the start task failed on every node of pool ${poolId}; see the nodes' startTaskInfo.`;
  const starting = (states.get('creating') ?? 0) + (states.get('starting') ?? 0) + (states.get('waitingforstarttask') ?? 0);
  if (starting > 0) return `NodesStarting: the nodes of pool ${poolId} are still starting (or running their start task).`;
  return `NoUsableNode: no node of pool ${poolId} can take tasks (${[...states].map(([s, n]) => `${n} ${s}`).join(', ')}).`;
}

/** Whether a stored task document is of an active task (the only ones with a reason), without parsing it. */
export const isActiveDoc = (doc: string): boolean => doc.includes('"state":"active"');

/** Adds the reason to a stored task document. */
export function withWaitingReason(doc: string, reason: string | undefined): string {
  return reason === undefined ? doc : `${doc.slice(0, -1)},"${WAITING_REASON}":${JSON.stringify(reason)}}`;
}
