import type { CloudJob, CloudPool, CloudTask, ComputeNode, StoredJob } from '../domain/batch/models.js';
import { countPoolNodes, nodeLost, saveNode, setNodeLoad } from '../domain/batch/nodes/lifecycle.js';
import { endDeallocation, letsTasksFinish, pendingDeallocation, retentionEnds, type PendingDeallocation } from '../domain/batch/nodes/deallocation.js';
import { PENDING_DISABLE } from '../domain/batch/nodes/nodeOperations.js';
import { finishPoolDeletion } from '../domain/batch/pools/deletePool.js';
import { forgetFailedPreparations, nodeTaskStarted } from '../domain/batch/jobs/nodeTaskStatus.js';
import type { BatchContext } from '../domain/batch/context.js';
import { taskCommand, type RunnableSpec } from './commands.js';
import type { ClusterContext } from './context.js';
import { runId, taskRunId } from './runs.js';
import type { NodeSession } from './session.js';
import { releaseTask, settleJob, takeBackTask } from './taskRuns.js';
import { removeJobDirs } from './jobDirs.js';

/**
 * Cluster events are handled one at a time, each as one unit of work: what the sessions (in memory)
 * and the store say cannot change between a handler's reading and its acting.
 */
const atomically =
  <A extends unknown[], R>(handle: (cluster: ClusterContext, ...args: A) => Promise<R>) =>
  (cluster: ClusterContext, ...args: A): Promise<R> =>
    cluster.store.tx(() => handle(cluster, ...args));

const TASK_ENDED = { category: 'usererror' as const, code: 'TaskEnded', message: 'The task was ended before it completed.' };

/** Every task a node runs now, read from the store. */
async function tasksOnNode(cluster: ClusterContext, account: string, pool: CloudPool, nodeId: string): Promise<{ job: StoredJob; task: CloudTask }[]> {
  const out = [];
  for (const job of await cluster.store.jobs.onPool(account, pool.id)) {
    for (const task of await cluster.store.tasks.inStates(job.pk, ['preparing', 'running'])) {
      if (task.nodeInfo?.nodeId === nodeId) out.push({ job, task });
    }
  }
  return out;
}

/**
 * Takes every task off a node: requeued (the default) or ended, as the node operation's option says.
 * Ended tasks leave at once; requeued ones leave a connected node once its agent has reported their
 * runs ended (takeBackTask). Returns how many tasks still wait for that.
 */
export async function clearNode(
  cluster: ClusterContext,
  ctx: BatchContext,
  pool: CloudPool,
  nodeId: string,
  option: string | undefined,
  session: NodeSession | undefined,
): Promise<number> {
  let waiting = 0;
  for (const { job, task } of await tasksOnNode(cluster, ctx.account, pool, nodeId)) {
    if (option !== 'terminate') {
      if (await takeBackTask(ctx, session, job, task)) waiting++;
      continue;
    }
    session?.send({ type: 'killTask', runId: taskRunId(job, task) });
    await releaseTask(ctx, session, job, task, { how: 'ended', outcome: { failureInfo: TASK_ENDED } });
  }
  if (waiting === 0) session?.tasks.clear();
  // Requeued tasks may run on another node now, whoever cleared this one (a resize, a reboot).
  cluster.wake(ctx.account);
  return waiting;
}

/** Starts taking back the runs a node's session holds (takeBackTask); how many it waits for. */
async function takeBackRuns(cluster: ClusterContext, ctx: BatchContext, pool: CloudPool, nodeId: string, session: NodeSession | undefined): Promise<number> {
  if (!session || session.closed) return 0;
  let waiting = 0;
  for (const { job, task } of await tasksOnNode(cluster, ctx.account, pool, nodeId)) {
    if (session.tasks.has(taskRunId(job, task)) && (await takeBackTask(ctx, session, job, task))) waiting++;
  }
  return waiting;
}

/** A node that stopped answering: unusable, its tasks back in the queue for other nodes. */
export async function loseNode(cluster: ClusterContext, session: NodeSession): Promise<void> {
  const ctx = cluster.batch(session.account);
  await cluster.store.tx(async () => {
    if (cluster.sessions.get(session.key) !== session) return; // replaced meanwhile (the node rejoined)
    const pool = await cluster.store.pools.getByPk(session.poolPk);
    const node = await cluster.store.nodes.get(session.poolPk, session.nodeId);
    if (!pool || !node) {
      session.close();
      cluster.sessions.delete(session.key);
      return;
    }
    await clearNode(cluster, ctx, pool.doc, session.nodeId, 'requeue', undefined);
    // A node lost while it was leaving the pool has left it; any other is unusable until it is back.
    if (pendingDeallocation(node.doc)?.operation === 'remove') await dropNode(cluster, ctx, session.poolPk, session.nodeId);
    else await nodeLost(ctx, session.poolPk, node.doc);
    session.close();
    cluster.sessions.delete(session.key);
  });
}

/** A node that has no agent to leave with goes at once; its tasks go back to the queue. */
export async function abandonNode(cluster: ClusterContext, account: string, poolPk: number, nodeId: string): Promise<void> {
  const ctx = cluster.batch(account);
  await cluster.store.tx(async () => {
    const pool = await cluster.store.pools.getByPk(poolPk);
    if (!pool || !(await cluster.store.nodes.get(poolPk, nodeId))) return;
    await clearNode(cluster, ctx, pool.doc, nodeId, 'requeue', undefined);
    await dropNode(cluster, ctx, poolPk, nodeId);
    const session = cluster.session(account, poolPk, nodeId);
    session?.close();
    if (session) cluster.sessions.delete(session.key);
  });
}

/** Removes a node record (it left the pool); a deleting pool goes once its last node has. */
export async function dropNode(cluster: ClusterContext, ctx: BatchContext, poolPk: number, nodeId: string): Promise<void> {
  await cluster.store.nodes.delete(poolPk, nodeId);
  const pool = await cluster.store.pools.getByPk(poolPk);
  if (!pool) return;
  if (pool.doc.state === 'deleting') await finishPoolDeletion(ctx, poolPk);
  else await countPoolNodes(ctx, poolPk, pool.doc);
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Reacts to a node operation (reboot, reimage, remove, disable scheduling), when it is asked and
 * again when the node's last task ends (setNodeLoad): its tasks are requeued, ended or let finish
 * as asked, and once nothing is left to wait for the agent is told what to do.
 */
export async function onNodeChanged(cluster: ClusterContext, account: string, pool: CloudPool, node: ComputeNode): Promise<void> {
  const ctx = cluster.batch(account);
  const outcome = await cluster.store.tx(async () => {
    const poolPk = (await cluster.store.pools.get(account, pool.id))?.pk;
    if (poolPk === undefined) return undefined;
    const session = cluster.session(account, poolPk, node.id);
    const current = (await cluster.store.nodes.get(poolPk, node.id))?.doc;
    if (!current) return undefined;
    const pending = pendingDeallocation(current);
    if (pending) return await settleDeallocation(cluster, ctx, poolPk, pool, current, pending, session);
    if (current.schedulingState === 'disabled' && current[PENDING_DISABLE] !== undefined) {
      const option = current[PENDING_DISABLE] as string;
      delete current[PENDING_DISABLE];
      await saveNode(ctx, poolPk, current);
      if (option !== 'taskcompletion') await clearNode(cluster, ctx, pool, node.id, option, session);
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
      onNodeChanged(cluster, account, pool, node).catch((err: unknown) => cluster.log(`cluster: removing node ${node.id} after its tasks' retention failed: ${String(err)}`));
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
async function settleDeallocation(
  cluster: ClusterContext,
  ctx: BatchContext,
  poolPk: number,
  pool: CloudPool,
  node: ComputeNode,
  pending: PendingDeallocation,
  session: NodeSession | undefined,
): Promise<'left' | number | undefined> {
  if (letsTasksFinish(pending.option)) {
    // setNodeLoad calls again when the last one ends.
    if ((await tasksOnNode(cluster, ctx.account, pool, node.id)).length > 0) return undefined;
  } else if (pending.option === 'requeue' && (await takeBackRuns(cluster, ctx, pool, node.id, session)) > 0) {
    // Its runs are being killed: setNodeLoad calls again when the agent has reported the last one.
    return undefined;
  }
  if (pending.option === 'retaineddata') {
    pending.retainedUntil ??= await retentionEnds(ctx, pool, node.id);
    const left = pending.retainedUntil - ctx.now.getTime();
    if (left > 0) {
      await saveNode(ctx, poolPk, node);
      return left;
    }
  }
  // The node record is saved before its tasks leave it: releasing them updates the stored record
  // (counts, running → idle), which a save of `node` afterwards would overwrite.
  endDeallocation(node);
  await saveNode(ctx, poolPk, node);
  await clearNode(cluster, ctx, pool, node.id, pending.option, session);
  session?.preparedJobs.clear();
  if (pending.operation === 'reimage') await forgetFailedPreparations(ctx, pool.id, node.id);
  if (pending.operation !== 'remove') {
    session?.send({ type: pending.operation });
    return undefined;
  }
  session?.send({ type: 'leave' });
  if (session) cluster.sessions.delete(session.key);
  await dropNode(cluster, ctx, poolPk, node.id);
  return 'left';
}

/** A task was ended through the API: its process stops. */
async function taskEnded(cluster: ClusterContext, account: string, job: CloudJob, task: CloudTask): Promise<void> {
  const nodeId = task.nodeInfo?.nodeId;
  const poolId = task.nodeInfo?.poolId;
  if (!nodeId || !poolId) return;
  const pool = await cluster.store.pools.get(account, poolId);
  const session = pool && cluster.session(account, pool.pk, nodeId);
  if (!session) return;
  const jobPk = (await cluster.store.jobs.get(account, job.id))?.pk;
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
  await cluster.store.tx(async () => {
    const node = await cluster.store.nodes.get(pool.pk, nodeId);
    if (node) await setNodeLoad(ctx, pool.pk, node.doc, session.tasks.size, session.usedSlots, { run: 1, succeeded: 0 });
    if (jobPk !== undefined) await settleJob(ctx, jobPk);
  });
}
export const onTaskEnded = atomically(taskEnded);

/**
 * A job is being terminated, disabled or deleted: its tasks leave the nodes (ended, requeued, or
 * left to finish as the option says), nodes that ran it get its release task, and the job moves on.
 */
async function jobEnded(cluster: ClusterContext, account: string, jobDoc: CloudJob): Promise<void> {
  const job = await cluster.store.jobs.get(account, jobDoc.id);
  if (!job) {
    // Deleted at once (nothing of it ran on a node).
    if (jobDoc.state === 'deleting') await removeJobDirs(cluster, account, jobDoc);
    return;
  }
  const ctx = cluster.batch(account);
  // Read the job's state again: it may have been disabled at once (nothing was running), or this
  // may be a second call for the same change; both must be harmless.
  const state = job.doc.state;
  const disabling = state === 'disabling' || state === 'disabled';
  if (!disabling && state !== 'terminating' && state !== 'completed' && state !== 'deleting') return;
  const option = disabling ? ((job.doc['pendingDisableTasks'] as string | undefined) ?? 'requeue') : 'terminate';
  await cluster.store.tx(async () => {
    if (option === 'wait') return;
    for (const task of await cluster.store.tasks.inStates(job.pk, ['preparing', 'running'])) {
      const pool = task.nodeInfo?.poolId ? await cluster.store.pools.get(account, task.nodeInfo.poolId) : undefined;
      const session = pool && task.nodeInfo?.nodeId ? cluster.session(account, pool.pk, task.nodeInfo.nodeId) : undefined;
      if (option === 'requeue') {
        await takeBackTask(ctx, session, job, task);
        continue;
      }
      session?.send({ type: 'killTask', runId: taskRunId(job, task) });
      await releaseTask(ctx, session, job, task, { how: 'ended', outcome: { failureInfo: TASK_ENDED } });
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
      await cluster.store.tx(
        async () =>
          await nodeTaskStarted(
            ctx,
            job.pk,
            job.doc,
            { poolId: session.poolId, nodeId: session.nodeId, nodeUrl: cluster.nodeUrl(session.poolId, session.nodeId) },
            'jobReleaseTaskExecutionInfo',
          ),
      );
      session.send(
        taskCommand(
          await cluster.commands(account, session.poolPk),
          runId({ kind: 'jobrelease', job: job.uid }),
          'jobrelease',
          release,
          { jobId: job.doc.id, taskId: (release as { id?: string }).id ?? 'jobrelease' },
          job.doc,
        ),
      );
    }
  }
  if (state === 'deleting') await removeJobDirs(cluster, account, job.doc);
}
export const onJobEnded = atomically(jobEnded);

/** A pool is being deleted: its nodes leave, and it is gone when the last one has. */
async function poolDeleting(cluster: ClusterContext, account: string, pool: CloudPool): Promise<void> {
  const stored = await cluster.store.pools.get(account, pool.id);
  if (!stored) return;
  const ctx = cluster.batch(account);
  await cluster.store.tx(async () => {
    for (const session of cluster.sessionsOfPool(account, stored.pk)) {
      session.send({ type: 'leave' });
      cluster.sessions.delete(session.key);
    }
    for (const row of await cluster.store.nodes.list(stored.pk, { limit: 100_000 })) {
      await clearNode(cluster, ctx, stored.doc, row.id, 'requeue', undefined);
      await dropNode(cluster, ctx, stored.pk, row.id);
    }
  });
}
export const onPoolDeleting = atomically(poolDeleting);
