import type { CloudJob, CloudPool, CloudTask, ComputeNode } from '../domain/batch/models.js';
import { countPoolNodes, nodeLost, saveNode, setNodeLoad } from '../domain/batch/nodes/lifecycle.js';
import { endDeallocation, letsTasksFinish, pendingDeallocation, retentionEnds, type PendingDeallocation } from '../domain/batch/nodes/deallocation.js';
import { PENDING_DISABLE } from '../domain/batch/nodes/nodeOperations.js';
import { finishPoolDeletion } from '../domain/batch/pools/deletePool.js';
import { forgetFailedPreparations, nodeTaskStarted } from '../domain/batch/jobs/nodeTaskStatus.js';
import type { BatchContext } from '../domain/batch/context.js';
import { taskCommand, type RunnableSpec } from './commands.js';
import type { ClusterContext } from './context.js';
import { runId, taskAttempt } from './runs.js';
import type { NodeSession } from './session.js';
import { releaseTask, settleJob, takeBackTask } from './taskRuns.js';
import { removeJobDirs } from './jobDirs.js';

const TASK_ENDED = { category: 'usererror' as const, code: 'TaskEnded', message: 'The task was ended before it completed.' };

/** Every task a node runs now, read from the store. */
function tasksOnNode(cluster: ClusterContext, account: string, pool: CloudPool, nodeId: string): { jobPk: number; job: CloudJob; task: CloudTask }[] {
  const out = [];
  for (const { pk, doc: job } of cluster.store.jobs.onPool(account, pool.id)) {
    for (const task of cluster.store.tasks.inStates(pk, ['preparing', 'running'])) {
      if (task.nodeInfo?.nodeId === nodeId) out.push({ jobPk: pk, job, task });
    }
  }
  return out;
}

/**
 * Takes every task off a node: requeued (the default) or ended, as the node operation's option says.
 * Ended tasks leave at once; requeued ones leave a connected node once its agent has reported their
 * runs ended (takeBackTask). Returns how many tasks still wait for that.
 */
export function clearNode(cluster: ClusterContext, ctx: BatchContext, pool: CloudPool, nodeId: string, option: string | undefined, session: NodeSession | undefined): number {
  let waiting = 0;
  for (const { jobPk, job, task } of tasksOnNode(cluster, ctx.account, pool, nodeId)) {
    if (option !== 'terminate') {
      if (takeBackTask(ctx, session, jobPk, job, task)) waiting++;
      continue;
    }
    session?.send({ type: 'killTask', runId: runId({ kind: 'task', jobPk, taskId: task.id, attempt: taskAttempt(task) }) });
    releaseTask(ctx, session, jobPk, job, task, { how: 'ended', outcome: { failureInfo: TASK_ENDED } });
  }
  if (waiting === 0) session?.tasks.clear();
  // Requeued tasks may run on another node now, whoever cleared this one (a resize, a reboot).
  cluster.wake(ctx.account);
  return waiting;
}

/** Starts taking back the runs a node's session holds (takeBackTask); how many it waits for. */
function takeBackRuns(cluster: ClusterContext, ctx: BatchContext, pool: CloudPool, nodeId: string, session: NodeSession | undefined): number {
  if (!session || session.closed) return 0;
  let waiting = 0;
  for (const { jobPk, job, task } of tasksOnNode(cluster, ctx.account, pool, nodeId)) {
    if (session.tasks.has(runId({ kind: 'task', jobPk, taskId: task.id, attempt: taskAttempt(task) })) && takeBackTask(ctx, session, jobPk, job, task)) waiting++;
  }
  return waiting;
}

/** A node that stopped answering: unusable, its tasks back in the queue for other nodes. */
export function loseNode(cluster: ClusterContext, session: NodeSession): void {
  const ctx = cluster.batch(session.account);
  cluster.store.tx(() => {
    const pool = cluster.store.pools.getByPk(session.poolPk);
    const node = cluster.store.nodes.get(session.poolPk, session.nodeId);
    if (!pool || !node) return;
    clearNode(cluster, ctx, pool.doc, session.nodeId, 'requeue', undefined);
    // A node lost while it was leaving the pool has left it; any other is unusable until it is back.
    if (pendingDeallocation(node.doc)?.operation === 'remove') dropNode(cluster, ctx, session.poolPk, session.nodeId);
    else nodeLost(ctx, session.poolPk, node.doc);
  });
  session.close();
  cluster.sessions.delete(session.key);
}

/** A node that has no agent to leave with goes at once; its tasks go back to the queue. */
export function abandonNode(cluster: ClusterContext, account: string, poolPk: number, nodeId: string): void {
  const ctx = cluster.batch(account);
  cluster.store.tx(() => {
    const pool = cluster.store.pools.getByPk(poolPk);
    if (!pool || !cluster.store.nodes.get(poolPk, nodeId)) return;
    clearNode(cluster, ctx, pool.doc, nodeId, 'requeue', undefined);
    dropNode(cluster, ctx, poolPk, nodeId);
  });
  const session = cluster.session(account, poolPk, nodeId);
  session?.close();
  if (session) cluster.sessions.delete(session.key);
}

/** Removes a node record (it left the pool); a deleting pool goes once its last node has. */
export function dropNode(cluster: ClusterContext, ctx: BatchContext, poolPk: number, nodeId: string): void {
  cluster.store.nodes.delete(poolPk, nodeId);
  const pool = cluster.store.pools.getByPk(poolPk);
  if (!pool) return;
  if (pool.doc.state === 'deleting') finishPoolDeletion(ctx, poolPk);
  else countPoolNodes(ctx, poolPk, pool.doc);
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Reacts to a node operation (reboot, reimage, remove, disable scheduling), when it is asked and
 * again when the node's last task ends (setNodeLoad): its tasks are requeued, ended or let finish
 * as asked, and once nothing is left to wait for the agent is told what to do.
 */
export function onNodeChanged(cluster: ClusterContext, account: string, pool: CloudPool, node: ComputeNode): void {
  const poolPk = cluster.store.pools.get(account, pool.id)?.pk;
  if (poolPk === undefined) return;
  const session = cluster.session(account, poolPk, node.id);
  const ctx = cluster.batch(account);
  const outcome = cluster.store.tx(() => {
    const current = cluster.store.nodes.get(poolPk, node.id)?.doc;
    if (!current) return undefined;
    const pending = pendingDeallocation(current);
    if (pending) return settleDeallocation(cluster, ctx, poolPk, pool, current, pending, session);
    if (current.schedulingState === 'disabled' && current[PENDING_DISABLE] !== undefined) {
      const option = current[PENDING_DISABLE] as string;
      delete current[PENDING_DISABLE];
      saveNode(ctx, poolPk, current);
      if (option !== 'taskcompletion') clearNode(cluster, ctx, pool, node.id, option, session);
    }
    return undefined;
  });
  if (outcome === 'left') {
    // The pool changed: the local nodes stop its process, and the scheduler looks again.
    cluster.hooks.changed?.(account);
  } else if (typeof outcome === 'number') {
    awaitRetention(cluster, account, pool, node, outcome);
  }
}

/**
 * retaineddata: the node goes (or restarts) when the last retention of its tasks' data has passed,
 * `ms` from now. The deadline is on the stored node (PendingDeallocation.retainedUntil): after a
 * restart restoreSessions calls this again for every node still waiting.
 */
export function awaitRetention(cluster: ClusterContext, account: string, pool: CloudPool, node: ComputeNode, ms: number): void {
  const timer = setTimeout(
    () => {
      try {
        onNodeChanged(cluster, account, pool, node);
      } catch (err) {
        cluster.log(`cluster: removing node ${node.id} after its tasks' retention failed: ${String(err)}`);
      }
    },
    Math.min(MAX_TIMER_MS, Math.max(0, ms)),
  );
  timer.unref();
}

/**
 * A node leaving its pool or restarting: done now (its tasks requeued or ended), or once its tasks
 * have finished (taskcompletion), and their data retention has passed (retaineddata). Returns
 * 'left' when the node has left the pool, the milliseconds left to wait for retained data, or
 * undefined. Called in a transaction.
 */
function settleDeallocation(
  cluster: ClusterContext,
  ctx: BatchContext,
  poolPk: number,
  pool: CloudPool,
  node: ComputeNode,
  pending: PendingDeallocation,
  session: NodeSession | undefined,
): 'left' | number | undefined {
  if (letsTasksFinish(pending.option)) {
    // setNodeLoad calls again when the last one ends.
    if (tasksOnNode(cluster, ctx.account, pool, node.id).length > 0) return undefined;
  } else if (pending.option === 'requeue' && takeBackRuns(cluster, ctx, pool, node.id, session) > 0) {
    // Its runs are being killed: setNodeLoad calls again when the agent has reported the last one.
    return undefined;
  }
  if (pending.option === 'retaineddata') {
    pending.retainedUntil ??= retentionEnds(ctx, pool, node.id);
    const left = pending.retainedUntil - ctx.now.getTime();
    if (left > 0) {
      saveNode(ctx, poolPk, node);
      return left;
    }
  }
  // The node record is saved before its tasks leave it: releasing them updates the stored record
  // (counts, running → idle), which a save of `node` afterwards would overwrite.
  endDeallocation(node);
  saveNode(ctx, poolPk, node);
  clearNode(cluster, ctx, pool, node.id, pending.option, session);
  session?.preparedJobs.clear();
  if (pending.operation === 'reimage') forgetFailedPreparations(ctx, pool.id, node.id);
  if (pending.operation !== 'remove') {
    session?.send({ type: pending.operation });
    return undefined;
  }
  session?.send({ type: 'leave' });
  if (session) cluster.sessions.delete(session.key);
  dropNode(cluster, ctx, poolPk, node.id);
  return 'left';
}

/** A task was ended through the API: its process stops. */
export function onTaskEnded(cluster: ClusterContext, account: string, job: CloudJob, task: CloudTask): void {
  const nodeId = task.nodeInfo?.nodeId;
  const poolId = task.nodeInfo?.poolId;
  if (!nodeId || !poolId) return;
  const pool = cluster.store.pools.get(account, poolId);
  const session = pool && cluster.session(account, pool.pk, nodeId);
  if (!session) return;
  const jobPk = cluster.store.jobs.get(account, job.id)?.pk;
  let freed = false;
  for (const [id, t] of session.tasks) {
    if (t.taskId === task.id && (jobPk === undefined || t.jobPk === jobPk)) {
      session.send({ type: 'killTask', runId: id });
      session.tasks.delete(id);
      freed = true;
    }
  }
  if (!freed) return;
  cluster.wake(account);
  // Its slots are free now: the node's counts (and idle/running) follow, and a job that waited
  // for this task to leave its node (terminating, disabling, deleting) moves on.
  const ctx = cluster.batch(account);
  cluster.store.tx(() => {
    const node = cluster.store.nodes.get(pool.pk, nodeId);
    if (node) setNodeLoad(ctx, pool.pk, node.doc, session.tasks.size, session.usedSlots, { run: 1, succeeded: 0 });
    if (jobPk !== undefined) settleJob(ctx, jobPk);
  });
}

/**
 * A job is being terminated, disabled or deleted: its tasks leave the nodes (ended, requeued, or
 * left to finish as the option says), nodes that ran it get its release task, and the job moves on.
 */
export function onJobEnded(cluster: ClusterContext, account: string, jobDoc: CloudJob): void {
  const job = cluster.store.jobs.get(account, jobDoc.id);
  if (!job) {
    // Deleted at once (nothing of it ran on a node).
    if (jobDoc.state === 'deleting') removeJobDirs(cluster, account, jobDoc);
    return;
  }
  const ctx = cluster.batch(account);
  // Read the job's state again: it may have been disabled at once (nothing was running), or this
  // may be a second call for the same change; both must be harmless.
  const state = job.doc.state;
  const disabling = state === 'disabling' || state === 'disabled';
  if (!disabling && state !== 'terminating' && state !== 'completed' && state !== 'deleting') return;
  const option = disabling ? ((job.doc['pendingDisableTasks'] as string | undefined) ?? 'requeue') : 'terminate';
  cluster.store.tx(() => {
    if (option === 'wait') return;
    for (const task of cluster.store.tasks.inStates(job.pk, ['preparing', 'running'])) {
      const pool = task.nodeInfo?.poolId ? cluster.store.pools.get(account, task.nodeInfo.poolId) : undefined;
      const session = pool && task.nodeInfo?.nodeId ? cluster.session(account, pool.pk, task.nodeInfo.nodeId) : undefined;
      if (option === 'requeue') {
        takeBackTask(ctx, session, job.pk, job.doc, task);
        continue;
      }
      session?.send({ type: 'killTask', runId: runId({ kind: 'task', jobPk: job.pk, taskId: task.id, attempt: taskAttempt(task) }) });
      releaseTask(ctx, session, job.pk, job.doc, task, { how: 'ended', outcome: { failureInfo: TASK_ENDED } });
    }
  });
  // Its tasks' slots are free for other jobs' tasks.
  cluster.wake(account);
  // A disabled job has not ended: it gets no release task (and may run again when enabled).
  if (disabling) return;
  const release = job.doc.jobReleaseTask as RunnableSpec | undefined;
  for (const session of cluster.sessions.values()) {
    if (session.account !== account || !session.jobsRun.delete(job.pk)) continue;
    session.preparedJobs.delete(job.pk);
    if (release) {
      cluster.store.tx(() =>
        nodeTaskStarted(
          ctx,
          job.pk,
          job.doc,
          { poolId: session.poolId, nodeId: session.nodeId, nodeUrl: cluster.nodeUrl(session.poolId, session.nodeId) },
          'jobReleaseTaskExecutionInfo',
        ),
      );
      session.send(
        taskCommand(
          cluster.commands(account, session.poolPk),
          runId({ kind: 'jobrelease', jobPk: job.pk }),
          'jobrelease',
          release,
          { jobId: job.doc.id, taskId: (release as { id?: string }).id ?? 'jobrelease' },
          job.doc,
        ),
      );
    }
  }
  if (state === 'deleting') removeJobDirs(cluster, account, job.doc);
}

/** A pool is being deleted: its nodes leave, and it is gone when the last one has. */
export function onPoolDeleting(cluster: ClusterContext, account: string, pool: CloudPool): void {
  const stored = cluster.store.pools.get(account, pool.id);
  if (!stored) return;
  const ctx = cluster.batch(account);
  cluster.store.tx(() => {
    for (const session of cluster.sessionsOfPool(account, stored.pk)) {
      session.send({ type: 'leave' });
      cluster.sessions.delete(session.key);
    }
    for (const row of cluster.store.nodes.list(stored.pk, { limit: 100_000 })) {
      clearNode(cluster, ctx, stored.doc, row.id, 'requeue', undefined);
      dropNode(cluster, ctx, stored.pk, row.id);
    }
  });
}
