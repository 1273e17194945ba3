import type { TaskRunResult } from '../agent/runTask.js';
import { startTaskEnded } from '../domain/batch/nodes/lifecycle.js';
import type { StoredJob } from '../domain/batch/models.js';
import { markRunning } from '../domain/batch/tasks/dispatch.js';
import { nodeTaskEnded, nodeTaskStatuses, preparationRetryCount, retryPreparation } from '../domain/batch/jobs/nodeTaskStatus.js';
import type { AgentReport, TaskCommand } from '../protocol/agent/messages.js';
import { preparationCommand, taskCommand, type RunnableSpec } from './commands.js';
import type { ClusterContext } from './context.js';
import { parseRunId, runId, taskAttempt, taskRunId } from './runs.js';
import type { NodeSession } from './session.js';
import { releaseTask } from './taskRuns.js';

const outcomeOf = (r: TaskRunResult) => ({ exitCode: r.exitCode, failureInfo: r.failureInfo });

const nodeRef = (cluster: ClusterContext, s: NodeSession) => ({ poolId: s.poolId, nodeId: s.nodeId, nodeUrl: cluster.nodeUrl(s.poolId, s.nodeId) });

/**
 * The job a run id names (by its uid), if it is this session's to report on: a job of the session's
 * account, on the session's pool, not a job of a pool the node is not in.
 */
async function jobOfSession(cluster: ClusterContext, session: NodeSession, jobUid: string): Promise<StoredJob | undefined> {
  const job = await cluster.store.jobs.getByUid(session.account, jobUid);
  if (!job) return undefined;
  const poolId = job.doc.executionInfo.poolId ?? job.doc.poolInfo.poolId;
  return poolId?.toLowerCase() === session.poolId.toLowerCase() ? job : undefined;
}

/**
 * The task a run id names, if that run is the task's current one and this session holds it: the
 * task runs on this pool and node, and the server gave it to this session (a report from an older
 * session of the node, or from another node, changes nothing).
 */
async function currentTask(cluster: ClusterContext, session: NodeSession, jobUid: string, taskId: string, attempt: string) {
  const job = await jobOfSession(cluster, session, jobUid);
  const task = job && (await cluster.store.tasks.get(job.pk, taskId));
  if (!job || !task) return undefined;
  const t = task.doc;
  const onThisNode =
    (t.state === 'running' || t.state === 'preparing') &&
    t.nodeInfo?.nodeId === session.nodeId &&
    t.nodeInfo.poolId?.toLowerCase() === session.poolId.toLowerCase() &&
    taskAttempt(t) === attempt &&
    session.tasks.has(taskRunId(job, t));
  return onThisNode ? { job, task: t } : undefined;
}

/**
 * The job whose preparation or release task this node runs now, as the job's status list says; for
 * a preparation, the try the report is of must be the current one (`attempt`, its retry count).
 */
async function jobTaskRunning(
  cluster: ClusterContext,
  session: NodeSession,
  ref: { kind: 'jobpreparation'; job: string; attempt: number } | { kind: 'jobrelease'; job: string },
): Promise<StoredJob | undefined> {
  const job = await jobOfSession(cluster, session, ref.job);
  const which = ref.kind === 'jobrelease' ? 'jobReleaseTaskExecutionInfo' : 'jobPreparationTaskExecutionInfo';
  const running = job !== undefined && nodeTaskStatuses(job.doc).some((s) => s.nodeId === session.nodeId && s[which]?.state === 'running');
  if (!running || (ref.kind === 'jobpreparation' && preparationRetryCount(job.doc, session.nodeId) !== ref.attempt)) return undefined;
  return job;
}

/** Azure retries failed runs, not runs that failed before or after the command (downloads, uploads). */
const retryable = (result: TaskRunResult): boolean => !result.preProcessingError && !result.fileUploadError;

/**
 * Applies a batch of a node's reports in one transaction. A report for a run this session does not
 * hold (the task was requeued, ended, or given to another node or session) changes nothing: the
 * run ids of those come back, and the agent is told.
 */
export async function applyReports(cluster: ClusterContext, session: NodeSession, reports: AgentReport[]): Promise<string[]> {
  const followUps: TaskCommand[] = [];
  const refused: string[] = [];
  await cluster.store.tx(async () => {
    for (const report of reports) if (!(await applyReport(cluster, session, report, followUps))) refused.push(report.runId);
  });
  if (followUps.length > 0) session.send(...followUps);
  return refused;
}

/** One report; whether it was this session's to make. Commands it leads to go in `followUps`. */
async function applyReport(cluster: ClusterContext, session: NodeSession, report: AgentReport, followUps: TaskCommand[]): Promise<boolean> {
  const ctx = cluster.batch(session.account);
  const ref = parseRunId(report.runId);
  const result = report.result;
  if (!ref) return false;
  if (ref.kind === 'task') {
    const current = await currentTask(cluster, session, ref.job, ref.taskId, ref.attempt);
    if (!current) return false;
    current.task.executionInfo.startTime = result.startTime;
    await releaseTask(ctx, session, current.job, current.task, {
      how: 'finished',
      outcome: outcomeOf(result),
      retryable: retryable(result),
    });
    return true;
  }
  if (ref.kind === 'starttask') {
    const node = ref.attempt === session.startTaskAttempt ? await cluster.store.nodes.get(session.poolPk, session.nodeId) : undefined;
    if (!node) return false;
    if (await startTaskEnded(ctx, session.poolPk, node.doc, { ...outcomeOf(result), startTime: result.startTime })) {
      session.startTaskAttempt += 1;
      followUps.push(
        taskCommand(
          await cluster.commands(session.account, session.poolPk),
          runId({ kind: 'starttask', attempt: session.startTaskAttempt }),
          'starttask',
          node.doc['startTask'] as RunnableSpec,
          {},
        ),
      );
    }
    return true;
  }
  const job = await jobTaskRunning(cluster, session, ref);
  if (!job) return false;
  const node = nodeRef(cluster, session);
  const outcome = { ...outcomeOf(result), startTime: result.startTime, endTime: result.endTime };
  if (ref.kind === 'jobrelease') {
    await nodeTaskEnded(ctx, job.pk, node, 'jobReleaseTaskExecutionInfo', outcome);
    return true;
  }
  // A failed preparation runs again on this node while its retries last; its tasks keep waiting.
  const retry = result.result !== 'success' && retryable(result) ? await retryPreparation(ctx, job.pk, job.doc, node) : undefined;
  if (retry !== undefined) {
    followUps.push(preparationCommand(await cluster.commands(session.account, session.poolPk), job, retry));
    return true;
  }
  await nodeTaskEnded(ctx, job.pk, node, 'jobPreparationTaskExecutionInfo', outcome);
  const waiting = session.awaitingPreparation.get(job.pk) ?? [];
  session.awaitingPreparation.delete(job.pk);
  if (result.result !== 'success') {
    await returnWaitingTasks(cluster, session, job, waiting as TaskCommand[]);
    return true;
  }
  session.preparedJobs.add(job.pk);
  for (const command of waiting as TaskCommand[]) {
    const run = parseRunId(command.runId);
    const current = run?.kind === 'task' ? await currentTask(cluster, session, job.uid, run.taskId, run.attempt) : undefined;
    if (!current) continue;
    await markRunning(ctx, job.pk, current.task);
    followUps.push(command);
  }
  return true;
}

/**
 * A failed job preparation task makes the node ineligible for the job (its status says so, see
 * preparationFailedOn): the tasks that waited for it there go back to the queue, for other nodes.
 */
async function returnWaitingTasks(cluster: ClusterContext, session: NodeSession, job: StoredJob, waiting: TaskCommand[]): Promise<void> {
  const ctx = cluster.batch(session.account);
  for (const command of waiting) {
    const ref = parseRunId(command.runId);
    if (ref?.kind !== 'task') continue;
    const current = await currentTask(cluster, session, job.uid, ref.taskId, ref.attempt);
    if (!current) continue;
    await releaseTask(ctx, session, current.job, current.task, { how: 'unassigned' });
  }
}
