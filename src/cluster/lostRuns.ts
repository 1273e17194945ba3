import type { ClusterContext } from './context.js';
import { parseRunId } from './runs.js';
import type { NodeSession } from './session.js';
import { releaseTask } from './taskRuns.js';

// A command may be in flight for a moment, and a finished run's report may be on its way: only a
// run missing from two heartbeats, well after it was sent, is taken for lost (config/timings.ts).

/**
 * Compares what a node's heartbeat says it runs with what the server gave it. A task whose command
 * never arrived (its stream died as it was written) would otherwise stay `running` for ever: it goes
 * back to the queue, as a requeue. Returns whether anything was requeued.
 *
 * The other way round, a task run the node has and the server did not give this session (one whose
 * report the server applied meanwhile, or a run id of an older Kiln's form, whose task the server
 * counts as lost and runs again) is stopped: it must not overlap its task's next run.
 */
export async function requeueLostRuns(cluster: ClusterContext, session: NodeSession, running: string[]): Promise<boolean> {
  const listed = new Set(running);
  const strays = running.filter((id) => parseRunId(id)?.kind === 'task' && !session.tasks.has(id));
  if (strays.length > 0) session.send(...strays.map((runId) => ({ type: 'killTask' as const, runId })));
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
      await releaseTask(ctx, session, job, task, { how: 'requeued' });
    }
  });
  return true;
}
