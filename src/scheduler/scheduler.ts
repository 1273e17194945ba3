import type { ClusterContext } from '../cluster/context.js';
import { taskCommand, type RunnableSpec } from '../cluster/commands.js';
import { runId, taskAttempt } from '../cluster/runs.js';
import type { NodeSession } from '../cluster/session.js';
import { assignTask, markRunning } from '../domain/batch/tasks/dispatch.js';
import { nodeTaskStarted } from '../domain/batch/jobs/nodeTaskStatus.js';
import type { CloudJob, CloudPool, CloudTask } from '../domain/batch/models.js';
import { setNodeLoad, slotsPerNode } from '../domain/batch/nodes/lifecycle.js';
import type { AgentCommand } from '../protocol/agent/messages.js';
import { dependenciesMet, jobAcceptsTasks, nodeAcceptsTasks, withinParallelLimit } from './feasibility.js';
import { pickNode, type Candidate } from './ranking.js';

/** How many queued tasks of one job a pass looks at, past those it cannot place yet. */
const SCAN_LIMIT = 2000;

/**
 * The scheduler: event-driven, not periodic. Anything that may let a task run (a task added, a
 * slot freed, a node ready, a job enabled) calls `kick`; passes are coalesced, so a burst of events
 * costs one pass. A pass is a pipeline per pool: the nodes with free slots (feasibility), the jobs
 * by priority, their queued tasks through the checks, a node ranked for each, and all placements
 * of the pass committed in one transaction before the commands go out.
 */
export class Scheduler {
  private readonly due = new Set<string>();
  private scheduled = false;

  constructor(private readonly cluster: ClusterContext) {}

  kick(account: string): void {
    this.due.add(account);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const accounts = [...this.due];
      this.due.clear();
      for (const account of accounts) {
        try {
          this.pass(account);
        } catch (err) {
          this.cluster.log(`scheduler: pass for ${account} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        }
      }
    });
  }

  private pass(account: string): void {
    for (const pool of this.cluster.store.pools.all(account)) {
      if (pool.doc.state === 'active') this.schedulePool(account, pool.pk, pool.doc);
    }
  }

  private schedulePool(account: string, poolPk: number, pool: CloudPool): void {
    const { store } = this.cluster;
    const candidates: Candidate<NodeSession>[] = [];
    for (const session of this.cluster.sessionsOfPool(account, poolPk)) {
      const node = store.nodes.get(poolPk, session.nodeId)?.doc;
      const free = slotsPerNode(pool) - session.usedSlots;
      if (node && nodeAcceptsTasks(node) && free > 0) candidates.push({ node: session, free });
    }
    if (candidates.length === 0) return;
    const fill = (pool['taskSchedulingPolicy'] as { nodeFillType?: string } | undefined)?.nodeFillType === 'pack' ? 'pack' : 'spread';
    const jobs = store.jobs
      .onPool(account, pool.id)
      .filter((j) => jobAcceptsTasks(j.doc).ok)
      .sort((a, b) => (b.doc.priority ?? 0) - (a.doc.priority ?? 0) || a.doc.creationTime.localeCompare(b.doc.creationTime));
    if (jobs.length === 0) return;

    const ctx = this.cluster.batch(account);
    const commands = new Map<NodeSession, AgentCommand[]>();
    const touched = new Set<NodeSession>();
    store.tx(() => {
      this.placeTasks(ctx, jobs, candidates, fill, commands, touched);
      // The nodes' loads change with what they were given, in the same transaction.
      for (const session of touched) {
        const node = store.nodes.get(poolPk, session.nodeId);
        if (node) setNodeLoad(ctx, poolPk, node.doc, session.tasks.size, session.usedSlots, { run: 0, succeeded: 0 });
      }
    });
    for (const [session, list] of commands) session.send(...list);
  }

  /** Goes through the jobs by priority and their queued tasks in order, placing what fits. */
  private placeTasks(
    ctx: ReturnType<ClusterContext['batch']>,
    jobs: { pk: number; doc: CloudJob }[],
    candidates: Candidate<NodeSession>[],
    fill: 'spread' | 'pack',
    commands: Map<NodeSession, AgentCommand[]>,
    touched: Set<NodeSession>,
  ): void {
    const { store } = this.cluster;
    for (const { pk: jobPk, doc: job } of jobs) {
      let running = this.runningTasksOf(jobPk);
      let after = '';
      for (let scanned = 0; scanned < SCAN_LIMIT; ) {
        if (!candidates.some((c) => c.free > 0)) return;
        // Fetch about as many queued tasks as there are free slots: a pass places few, and parsing
        // a big page of a long queue on every pass would cost more than the placing.
        const free = candidates.reduce((n, c) => n + c.free, 0);
        const batch = store.tasks.active(jobPk, after, Math.min(256, 2 * free + 8));
        if (batch.length === 0) break;
        for (const { key, doc: task } of batch) {
          after = key;
          scanned++;
          if (!withinParallelLimit(job, running).ok) break;
          if (task.dependsOn && !dependenciesMet(store, jobPk, task).ok) continue;
          const slots = task.requiredSlots ?? 1;
          const chosen = pickNode(candidates, slots, fill);
          if (!chosen) continue;
          this.place(ctx, jobPk, job, task, chosen.node, commands);
          chosen.free -= slots;
          touched.add(chosen.node);
          running++;
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
  private place(ctx: ReturnType<ClusterContext['batch']>, jobPk: number, job: CloudJob, task: CloudTask, session: NodeSession, commands: Map<NodeSession, AgentCommand[]>): void {
    const taskDir = `workitems/${job.id}/job-1/${task.id}`;
    const nodeUrl = this.cluster.nodeUrl(session.poolId, session.nodeId);
    assignTask(ctx, jobPk, job, task, {
      affinityId: `TVM:${session.nodeId}`,
      nodeUrl,
      poolId: session.poolId,
      nodeId: session.nodeId,
      taskRootDirectory: taskDir,
      taskRootDirectoryUrl: `${nodeUrl}/files/${taskDir}`,
    });
    const id = runId({ kind: 'task', jobPk, taskId: task.id, attempt: taskAttempt(task) });
    session.tasks.set(id, { jobPk, taskId: task.id, slots: task.requiredSlots ?? 1, sentAt: Date.now() });
    session.jobsRun.add(jobPk);
    const command = taskCommand(this.cluster.commands(ctx.account, session.poolPk), id, 'task', task as unknown as RunnableSpec, { jobId: job.id, taskId: task.id }, job);
    const list = commands.get(session) ?? [];
    commands.set(session, list);
    const prep = job.jobPreparationTask as RunnableSpec | undefined;
    if (!prep || session.preparedJobs.has(jobPk)) {
      if (task.state === 'preparing') markRunning(ctx, jobPk, task);
      list.push(command);
      return;
    }
    const waiting = session.awaitingPreparation.get(jobPk);
    if (waiting) {
      waiting.push(command);
      return;
    }
    session.awaitingPreparation.set(jobPk, [command]);
    nodeTaskStarted(ctx, jobPk, job, { poolId: session.poolId, nodeId: session.nodeId, nodeUrl }, 'jobPreparationTaskExecutionInfo');
    list.push(taskCommand(this.cluster.commands(ctx.account, session.poolPk), runId({ kind: 'jobpreparation', jobPk }), 'jobpreparation', prep, { jobId: job.id, taskId: (prep as { id?: string }).id ?? 'jobpreparation' }, job));
  }
}
