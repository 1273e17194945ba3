import type { ComputeNode } from '../domain/batch/models.js';
import { retainedUntil } from '../domain/batch/nodes/deallocation.js';
import { awaitRetention } from './nodeEvents.js';
import { slotsNeeded } from '../scheduler/feasibility.js';
import type { ClusterContext } from './context.js';
import { taskRunId } from './runs.js';
import { storedSecretHash } from './nodeCredentials.js';
import { NodeSession } from './session.js';

// Nodes in these states had an agent when the server stopped (a leaving one may be letting its tasks finish).
const LIVE = new Set(['creating', 'starting', 'waitingforstarttask', 'idle', 'running', 'starttaskfailed', 'rebooting', 'reimaging', 'leavingpool']);

/**
 * After a restart, the server takes back the nodes its store says were live: each gets a session
 * without a stream, holding the tasks the store says it runs. An agent that reconnects carries on
 * where it was, with the same node token (run ids are derived from the store, so its reports still
 * match); one that does not is lost after the usual silence, and its tasks go back to the queue.
 * Nodes that waited for their tasks' retained data before leaving or restarting wait again, until
 * the deadline stored on them.
 */
export async function restoreSessions(cluster: ClusterContext): Promise<number> {
  let restored = 0;
  for (const account of cluster.accounts.all()) {
    for (const { pk: poolPk, doc: pool } of await cluster.store.pools.all(account.name)) {
      if (pool.state !== 'active') continue;
      const sessions = new Map<string, NodeSession>();
      for (const row of await cluster.store.nodes.list(poolPk, { limit: 1_000_000 })) {
        const node = JSON.parse(row.doc) as ComputeNode;
        if (!LIVE.has(node.state)) continue;
        // retaineddata: a node that waited for its tasks' data retention goes at its stored deadline.
        const until = retainedUntil(node);
        if (until !== undefined) awaitRetention(cluster, account.name, pool, node, until - Date.now());
        // The session's secret is on the record: its agent's node token still works.
        const session = new NodeSession(account.name, poolPk, pool.id, node.id, storedSecretHash(node));
        session.startTaskAttempt = (node['startTaskInfo'] as { retryCount?: number } | undefined)?.retryCount ?? 0;
        sessions.set(node.id, session);
        cluster.sessions.set(session.key, session);
        restored++;
      }
      if (sessions.size === 0) continue;
      for (const stored of await cluster.store.jobs.onPool(account.name, pool.id)) {
        const { pk: jobPk, doc: job } = stored;
        for (const task of await cluster.store.tasks.inStates(jobPk, ['preparing', 'running'])) {
          const session = task.nodeInfo?.nodeId ? sessions.get(task.nodeInfo.nodeId) : undefined;
          if (!session) continue;
          session.tasks.set(taskRunId(stored, task), {
            jobPk,
            taskId: task.id,
            slots: slotsNeeded(pool, task),
            sentAt: Date.now(),
          });
          session.jobsRun.add(jobPk);
          if (task.state === 'running' && job.jobPreparationTask) session.preparedJobs.add(jobPk);
        }
      }
    }
  }
  return restored;
}
