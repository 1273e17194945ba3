import type { ClusterContext } from '../cluster/context.js';
import { preparationCommand, taskCommand, type RunnableSpec } from '../cluster/commands.js';
import { taskRunId } from '../cluster/runs.js';
import type { NodeSession } from '../cluster/session.js';
import { assignTask, markRunning } from '../domain/batch/tasks/dispatch.js';
import { nodeTaskStarted } from '../domain/batch/jobs/nodeTaskStatus.js';
import { jobWorkDir } from '../domain/batch/jobSchedules/jobIds.js';
import type { CloudPool, CloudTask, StoredJob } from '../domain/batch/models.js';
import { setNodeLoad, slotsPerNode } from '../domain/batch/nodes/lifecycle.js';
import type { AgentCommand } from '../protocol/agent/messages.js';
import { preparationFailedOn } from '../domain/batch/jobs/nodeTaskStatus.js';
import { allowsLowPriority, dependenciesMet, jobAcceptsTasks, nodeAcceptsTasks, slotsNeeded, withinParallelLimit } from './feasibility.js';
import { pickNode, type Candidate } from './ranking.js';
import { AccountPasses } from './accountPasses.js';

/** The node a task's affinityInfo names (an affinityId is `TVM:<nodeId>`, as nodes report it), if any. */
function affinityOf(task: CloudTask): ((p: Placement) => boolean) | undefined {
  const id = (task['affinityInfo'] as { affinityId?: unknown } | undefined)?.affinityId;
  if (typeof id !== 'string') return undefined;
  const wanted = id.toLowerCase();
  return (p) => `tvm:${p.session.nodeId}`.toLowerCase() === wanted;
}

/** A node a task may go to: its session, and whether it is dedicated (for allowLowPriorityNode). */
interface Placement {
  session: NodeSession;
  dedicated: boolean;
}

/** How many queued tasks of one job a pass looks at, past those it cannot place yet. */
const SCAN_LIMIT = 2000;

/**
 * The scheduler: event-driven, not periodic. Anything that may let a task run calls `kick`: every
 * API change, a node's join (new, rebooted, reimaged) and reports (a task or start task ended), and,
 * through ClusterContext.wake, what frees capacity on its own (tasks requeued off a node by a
 * resize or a node operation, a task or job ended). Passes are coalesced, so a burst of events
 * costs one pass. A pass is a pipeline per pool: the nodes with free slots (feasibility), the jobs
 * by priority, their queued tasks through the checks, a node ranked for each, and all placements
 * of the pass committed in one transaction before the commands go out.
 */
export class Scheduler {
  private readonly passes: AccountPasses;

  constructor(private readonly cluster: ClusterContext) {
    this.passes = new AccountPasses(
      (account) => this.pass(account),
      (m) => this.cluster.log(`scheduler: pass for ${m}`),
    );
  }

  kick(account: string): void {
    this.passes.kick(account);
  }

  /** No pass starts any more; resolves once the one in progress has ended. */
  close(): Promise<void> {
    return this.passes.close();
  }

  private async pass(account: string): Promise<void> {
    for (const pool of await this.cluster.store.pools.all(account)) {
      if (pool.doc.state === 'active') await this.schedulePool(account, pool.pk);
    }
  }

  /**
   * One pool's placements, decided and committed in one unit of work: what the nodes run and have free
   * (the sessions), and what is queued, cannot change between the reading and the placing. The commands
   * go out once the placements are committed.
   */
  private async schedulePool(account: string, poolPk: number): Promise<void> {
    const { store } = this.cluster;
    await store.tx(async () => {
      const pool = (await store.pools.getByPk(poolPk))?.doc;
      if (!pool || pool.state !== 'active') return;
      const candidates: Candidate<Placement>[] = [];
      for (const session of this.cluster.sessionsOfPool(account, poolPk)) {
        const node = (await store.nodes.get(poolPk, session.nodeId))?.doc;
        const free = slotsPerNode(pool) - session.usedSlots;
        if (node && nodeAcceptsTasks(node) && free > 0) candidates.push({ node: { session, dedicated: node.isDedicated }, free });
      }
      if (candidates.length === 0) return;
      const fill = (pool['taskSchedulingPolicy'] as { nodeFillType?: string } | undefined)?.nodeFillType === 'pack' ? 'pack' : 'spread';
      const jobs = (await store.jobs.onPool(account, pool.id))
        .filter((j) => jobAcceptsTasks(j.doc).ok)
        .sort((a, b) => (b.doc.priority ?? 0) - (a.doc.priority ?? 0) || a.doc.creationTime.localeCompare(b.doc.creationTime));
      if (jobs.length === 0) return;

      const ctx = this.cluster.batch(account);
      const commands = new Map<NodeSession, AgentCommand[]>();
      const touched = new Set<NodeSession>();
      await this.placeTasks(ctx, pool, jobs, candidates, fill, commands, touched);
      // The nodes' loads change with what they were given, in the same transaction.
      for (const session of touched) {
        const node = await store.nodes.get(poolPk, session.nodeId);
        if (node) await setNodeLoad(ctx, poolPk, node.doc, session.tasks.size, session.usedSlots, { run: 0, succeeded: 0 });
      }
      store.afterCommit(() => {
        for (const [session, list] of commands) session.send(...list);
      });
    });
  }

  /**
   * Goes through the jobs by priority and their queued tasks in order (a job's manager task first),
   * placing what fits on the nodes the job may use.
   */
  private async placeTasks(
    ctx: ReturnType<ClusterContext['batch']>,
    pool: CloudPool,
    jobs: StoredJob[],
    candidates: Candidate<Placement>[],
    fill: 'spread' | 'pack',
    commands: Map<NodeSession, AgentCommand[]>,
    touched: Set<NodeSession>,
  ): Promise<void> {
    const { store } = this.cluster;
    for (const stored of jobs) {
      const { pk: jobPk, doc: job } = stored;
      if (!candidates.some((c) => c.free > 0)) return;
      // Nodes where the job's preparation task failed are not the job's to use (until reimaged).
      const failed = job.jobPreparationTask ? preparationFailedOn(job) : undefined;
      const usable = failed?.size ? candidates.filter((c) => !failed.has(c.node.session.nodeId.toLowerCase())) : candidates;
      let running = this.runningTasksOf(jobPk);
      const tryPlace = async (task: CloudTask): Promise<void> => {
        const slots = slotsNeeded(pool, task);
        const chosen = pickNode(allowsLowPriority(task) ? usable : usable.filter((c) => c.node.dedicated), slots, fill, affinityOf(task));
        if (!chosen) return;
        await this.place(ctx, stored, task, slots, chosen.node.session, commands);
        chosen.free -= slots;
        touched.add(chosen.node.session);
        running++;
      };
      // The job manager task starts before the job's other tasks.
      const managerId = job.jobManagerTask?.['id'] as string | undefined;
      const manager = job.jobManagerTask ? (await store.tasks.get(jobPk, managerId ?? 'jobmanager'))?.doc : undefined;
      if (manager?.state === 'active' && withinParallelLimit(job, running).ok) await tryPlace(manager);
      let after = '';
      for (let scanned = 0; scanned < SCAN_LIMIT;) {
        if (!usable.some((c) => c.free > 0)) break;
        // Fetch about as many queued tasks as there are free slots: a pass places few, and parsing
        // a big page of a long queue on every pass would cost more than the placing.
        const free = usable.reduce((n, c) => n + c.free, 0);
        const batch = await store.tasks.active(jobPk, after, Math.min(256, 2 * free + 8));
        if (batch.length === 0) break;
        for (const { key, doc: task } of batch) {
          after = key;
          scanned++;
          if (!withinParallelLimit(job, running).ok) break;
          if (task.dependsOn && !(await dependenciesMet(store, jobPk, task)).ok) continue;
          await tryPlace(task);
        }
        if (!withinParallelLimit(job, running).ok) break;
      }
    }
  }

  private runningTasksOf(jobPk: number): number {
    let n = 0;
    for (const session of this.cluster.sessions.values()) for (const t of session.tasks.values()) if (t.jobPk === jobPk) n++;
    return n;
  }

  /** Gives one task to one node: the store first (in the pass's transaction), then the command. */
  private async place(
    ctx: ReturnType<ClusterContext['batch']>,
    stored: StoredJob,
    task: CloudTask,
    slots: number,
    session: NodeSession,
    commands: Map<NodeSession, AgentCommand[]>,
  ): Promise<void> {
    const { pk: jobPk, doc: job } = stored;
    const taskDir = `${jobWorkDir(job.id)}/${task.id}`;
    const nodeUrl = this.cluster.nodeUrl(session.poolId, session.nodeId);
    await assignTask(ctx, jobPk, job, task, {
      affinityId: `TVM:${session.nodeId}`,
      nodeUrl,
      poolId: session.poolId,
      nodeId: session.nodeId,
      taskRootDirectory: taskDir,
      taskRootDirectoryUrl: `${nodeUrl}/files/${taskDir}`,
    });
    const id = taskRunId(stored, task);
    session.tasks.set(id, { jobPk, taskId: task.id, slots, sentAt: Date.now() });
    session.jobsRun.add(jobPk);
    const command = taskCommand(await this.cluster.commands(ctx.account, session.poolPk), id, 'task', task as unknown as RunnableSpec, { jobId: job.id, taskId: task.id }, job);
    const list = commands.get(session) ?? [];
    commands.set(session, list);
    const prep = job.jobPreparationTask as RunnableSpec | undefined;
    if (!prep || session.preparedJobs.has(jobPk)) {
      if (task.state === 'preparing') await markRunning(ctx, jobPk, task);
      list.push(command);
      return;
    }
    const waiting = session.awaitingPreparation.get(jobPk);
    if (waiting) {
      waiting.push(command);
      return;
    }
    session.awaitingPreparation.set(jobPk, [command]);
    await nodeTaskStarted(ctx, jobPk, job, { poolId: session.poolId, nodeId: session.nodeId, nodeUrl }, 'jobPreparationTaskExecutionInfo');
    list.push(preparationCommand(await this.cluster.commands(ctx.account, session.poolPk), stored, 0));
  }
}
