import type { CloudJob } from '../domain/batch/models.js';
import type { ClusterContext } from './context.js';

/**
 * A deleted job's directories go from the nodes of its pool: "Deleting a Job also deletes all Tasks
 * that are part of that Job ... if the Job contains Tasks which are still retained on Compute
 * Nodes, the Batch services deletes those Tasks' working directories and all their contents"
 * (Job - Delete). The job preparation and release tasks' directories are the job's too. Every node
 * of the pool is told (one may have run the job in an earlier session); the agent removes them once
 * the job's runs there (its release task) have ended. A schedule's job takes its own directory
 * only, and the schedule's folder once its last job's is gone (jobIds.ts jobRemovalDirs).
 */
export async function removeJobDirs(cluster: ClusterContext, account: string, job: CloudJob): Promise<void> {
  const poolId = job.executionInfo.poolId ?? job.poolInfo.poolId;
  const pool = poolId ? await cluster.store.pools.get(account, poolId) : undefined;
  if (!pool) return;
  for (const session of cluster.sessionsOfPool(account, pool.pk)) session.send({ type: 'removeTaskDirs', jobId: job.id });
}
