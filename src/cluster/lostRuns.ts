import type { ClusterContext } from './context.js';
import type { NodeSession } from './session.js';
import { releaseTask } from './taskRuns.js';

// A command may be in flight for a moment, and a finished run's report may be on its way: only a
// run missing from two heartbeats, well after it was sent, is taken for lost (config/timings.ts).

/**
 * Compares what a node's heartbeat says it runs with what the server gave it. A task whose command
 * never arrived (its stream died as it was written) would otherwise stay `running` for ever: it goes
 * back to the queue, as a requeue. Returns whether anything was requeued.
 */
export async function requeueLostRuns(cluster: ClusterContext, session: NodeSession, running: string[]): Promise<boolean> {
  const listed = new Set(running);
  const now = Date.now();
  const { lostRunGraceMs, lostRunConfirmMs } = cluster.timings;
  const lost: string[] = [];
  for (const [id, task] of session.tasks) {
    if (listed.has(id) || now - task.sentAt < lostRunGraceMs) {
      session.unconfirmed.delete(id);
      continue;
    }
    const since = session.unconfirmed.get(id);
    if (since === undefined) session.unconfirmed.set(id, now);
    else if (now - since >= lostRunConfirmMs) lost.push(id);
  }
  if (lost.length === 0) return false;
  const ctx = cluster.batch(session.account);
  await cluster.store.tx(async () => {
    for (const id of lost) {
      const held = session.tasks.get(id)!;
      session.unconfirmed.delete(id);
      const job = await cluster.store.jobs.getByPk(held.jobPk);
      const task = job && (await cluster.store.tasks.get(held.jobPk, held.taskId))?.doc;
      if (!job || !task || task.nodeInfo?.nodeId !== session.nodeId || (task.state !== 'running' && task.state !== 'preparing')) {
        session.tasks.delete(id);
        continue;
      }
      cluster.log(`node ${session.nodeId} does not have task ${held.taskId}: back to the queue`);
      await releaseTask(ctx, session, held.jobPk, job.doc, task, { how: 'requeued' });
    }
  });
  return true;
}
