import type { BatchContext } from '../context.js';
import type { CloudJob, FailureInfo } from '../models.js';
import { jobWorkDir } from '../jobSchedules/jobIds.js';

/**
 * What GET /jobs/{id}/jobpreparationandreleasetaskstatus reports: per node that ran the job, how its
 * job preparation and release tasks went. Kept on the job document, under an internal property that
 * responses leave out; it changes once or twice per node, not per task.
 */
interface ExecutionInfo {
  state: 'running' | 'completed';
  startTime: string;
  endTime?: string;
  taskRootDirectory: string;
  taskRootDirectoryUrl: string;
  exitCode?: number;
  failureInfo?: FailureInfo;
  retryCount?: number;
  lastRetryTime?: string;
  result?: 'success' | 'failure';
}

export interface NodeTaskStatus {
  poolId: string;
  nodeId: string;
  nodeUrl: string;
  jobPreparationTaskExecutionInfo?: ExecutionInfo;
  jobReleaseTaskExecutionInfo?: ExecutionInfo;
}

const KEY = '_nodeTaskStatus';
type Which = 'jobPreparationTaskExecutionInfo' | 'jobReleaseTaskExecutionInfo';

export interface NodeRef {
  poolId: string;
  nodeId: string;
  nodeUrl: string;
}

async function update(ctx: BatchContext, jobPk: number, node: NodeRef, which: Which, change: (info: ExecutionInfo | undefined) => ExecutionInfo): Promise<void> {
  const stored = await ctx.store.jobs.getByPk(jobPk);
  if (!stored) return;
  const all = (stored.doc[KEY] ?? {}) as Record<string, NodeTaskStatus>;
  const entry = all[node.nodeId] ?? { ...node };
  entry[which] = change(entry[which]);
  all[node.nodeId] = entry;
  stored.doc[KEY] = all;
  await ctx.store.jobs.update(ctx.account, stored.doc);
}

/**
 * The job's preparation or release task starts on a node (its directory is under the job's): a
 * fresh series of tries, so a preparation's retry count starts at 0 (after a reboot too).
 */
export async function nodeTaskStarted(ctx: BatchContext, jobPk: number, job: CloudJob, node: NodeRef, which: Which): Promise<void> {
  const name = which === 'jobPreparationTaskExecutionInfo' ? 'jobpreparation' : 'jobrelease';
  const dir = `${jobWorkDir(job.id)}/${name}`;
  await update(ctx, jobPk, node, which, () => ({
    state: 'running',
    startTime: ctx.now.toISOString(),
    taskRootDirectory: dir,
    taskRootDirectoryUrl: `${node.nodeUrl}/files/${dir}`,
    ...(which === 'jobPreparationTaskExecutionInfo' ? { retryCount: 0 } : {}),
  }));
}

/** The retry count of the job's preparation task on a node now: which try a report is of. */
export function preparationRetryCount(job: CloudJob, nodeId: string): number | undefined {
  return ((job[KEY] ?? {}) as Record<string, NodeTaskStatus>)[nodeId]?.jobPreparationTaskExecutionInfo?.retryCount;
}

/**
 * The job's preparation task failed on a node with a nonzero exit code: it runs again there while
 * its constraints.maxTaskRetryCount allows (default 0, -1 without limit), before the node counts as
 * failed for the job. "Task application failures (non-zero exit code) are retried, pre-processing
 * errors (the Task could not be run) and file upload errors are not retried"
 * (JobPreparationTaskExecutionInformation.retryCount). Returns the new retry count when it is to
 * run again; undefined when the failure is final (then nodeTaskEnded records it).
 */
export async function retryPreparation(ctx: BatchContext, jobPk: number, job: CloudJob, node: NodeRef): Promise<number | undefined> {
  const max = (job.jobPreparationTask as { constraints?: { maxTaskRetryCount?: number } } | undefined)?.constraints?.maxTaskRetryCount ?? 0;
  const retries = preparationRetryCount(job, node.nodeId) ?? 0;
  if (max !== -1 && retries >= max) return undefined;
  const now = ctx.now.toISOString();
  await update(ctx, jobPk, node, 'jobPreparationTaskExecutionInfo', (before) => ({
    // A running try shows no exit code or result ("set only if the Task is in the completed state").
    taskRootDirectory: before?.taskRootDirectory ?? '',
    taskRootDirectoryUrl: before?.taskRootDirectoryUrl ?? '',
    state: 'running',
    startTime: now,
    retryCount: retries + 1,
    lastRetryTime: now,
  }));
  return retries + 1;
}

export async function nodeTaskEnded(
  ctx: BatchContext,
  jobPk: number,
  node: NodeRef,
  which: Which,
  outcome: { exitCode?: number; failureInfo?: FailureInfo; startTime: string; endTime: string },
): Promise<void> {
  await update(ctx, jobPk, node, which, (before) => ({
    ...(before ?? { taskRootDirectory: '', taskRootDirectoryUrl: '' }),
    state: 'completed',
    startTime: outcome.startTime,
    endTime: outcome.endTime,
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    ...(outcome.failureInfo ? { failureInfo: outcome.failureInfo } : {}),
    result: outcome.failureInfo || (outcome.exitCode ?? 0) !== 0 ? 'failure' : 'success',
  }));
}

export function nodeTaskStatuses(job: CloudJob): NodeTaskStatus[] {
  return Object.values((job[KEY] ?? {}) as Record<string, NodeTaskStatus>);
}

/**
 * Nodes where the job's preparation task failed: "Batch will not run Tasks of this Job on the Node.
 * The Compute Node remains ineligible to run Tasks of this Job until it is reimaged"
 * (JobPreparationTask). Lower-cased ids.
 */
export function preparationFailedOn(job: CloudJob): Set<string> {
  const failed = new Set<string>();
  for (const s of nodeTaskStatuses(job)) {
    const prep = s.jobPreparationTaskExecutionInfo;
    if (prep?.state === 'completed' && prep.result === 'failure') failed.add(s.nodeId.toLowerCase());
  }
  return failed;
}

/**
 * A reimaged node is eligible again for the jobs whose preparation task failed on it: it runs their
 * preparation task afresh. Called in a transaction, when the node begins to reimage.
 */
export async function forgetFailedPreparations(ctx: BatchContext, poolId: string, nodeId: string): Promise<void> {
  for (const { doc: job } of await ctx.store.jobs.onPool(ctx.account, poolId)) {
    const all = job[KEY] as Record<string, NodeTaskStatus> | undefined;
    const prep = all?.[nodeId]?.jobPreparationTaskExecutionInfo;
    if (!all || prep?.result !== 'failure') continue;
    delete all[nodeId];
    await ctx.store.jobs.update(ctx.account, job);
  }
}
