import type { TaskRunResult } from '../agent/runTask.js';
import { startTaskEnded } from '../domain/batch/nodes/lifecycle.js';
import type { CloudJob, CloudTask } from '../domain/batch/models.js';
import { markRunning } from '../domain/batch/tasks/dispatch.js';
import { nodeTaskEnded } from '../domain/batch/jobs/nodeTaskStatus.js';
import type { AgentReport, TaskCommand } from '../protocol/agent/messages.js';
import { taskCommand, type RunnableSpec } from './commands.js';
import type { ClusterContext } from './context.js';
import { parseRunId, runId, taskAttempt } from './runs.js';
import type { NodeSession } from './session.js';
import { releaseTask } from './taskRuns.js';

const outcomeOf = (r: TaskRunResult) => ({ exitCode: r.exitCode, failureInfo: r.failureInfo });

const nodeRef = (cluster: ClusterContext, s: NodeSession) => ({ poolId: s.poolId, nodeId: s.nodeId, nodeUrl: cluster.nodeUrl(s.poolId, s.nodeId) });

/** The task a run id names, if that run is still the task's current one on this node. */
function currentTask(cluster: ClusterContext, session: NodeSession, jobPk: number, taskId: string, attempt: string) {
  const job = cluster.store.jobs.getByPk(jobPk);
  const task = job && cluster.store.tasks.get(jobPk, taskId);
  if (!job || !task) return undefined;
  const t = task.doc;
  const onThisNode = (t.state === 'running' || t.state === 'preparing') && t.nodeInfo?.nodeId === session.nodeId;
  return onThisNode && taskAttempt(t) === attempt ? { job: job.doc, task: t } : undefined;
}

/**
 * Applies a batch of a node's reports in one transaction. A report for a run the server no longer
 * expects (the task was requeued, ended, or given to another node) changes nothing.
 */
export function applyReports(cluster: ClusterContext, session: NodeSession, reports: AgentReport[]): void {
  const ctx = cluster.batch(session.account);
  const followUps: TaskCommand[] = [];
  cluster.store.tx(() => {
    for (const report of reports) {
      const ref = parseRunId(report.runId);
      if (!ref) continue;
      if (ref.kind === 'task') {
        const current = currentTask(cluster, session, ref.jobPk, ref.taskId, ref.attempt);
        if (!current) continue;
        const result = report.result;
        current.task.executionInfo.startTime = result.startTime;
        releaseTask(ctx, session, ref.jobPk, current.job, current.task, {
          how: 'finished',
          outcome: outcomeOf(result),
          // Azure retries failed runs, not runs that failed before or after the command (downloads, uploads).
          retryable: !result.preProcessingError && !result.fileUploadError,
        });
        continue;
      }
      if (ref.kind === 'starttask') {
        if (ref.attempt !== session.startTaskAttempt) continue;
        const node = cluster.store.nodes.get(session.poolPk, session.nodeId);
        if (!node) continue;
        if (startTaskEnded(ctx, session.poolPk, node.doc, { ...outcomeOf(report.result), startTime: report.result.startTime })) {
          session.startTaskAttempt += 1;
          followUps.push(taskCommand(cluster.commands(session.account, session.poolPk), runId({ kind: 'starttask', attempt: session.startTaskAttempt }), 'starttask', node.doc['startTask'] as RunnableSpec, {}));
        }
      } else if (ref.kind === 'jobrelease') {
        nodeTaskEnded(ctx, ref.jobPk, nodeRef(cluster, session), 'jobReleaseTaskExecutionInfo', { ...outcomeOf(report.result), startTime: report.result.startTime, endTime: report.result.endTime });
      } else if (ref.kind === 'jobpreparation') {
        nodeTaskEnded(ctx, ref.jobPk, nodeRef(cluster, session), 'jobPreparationTaskExecutionInfo', { ...outcomeOf(report.result), startTime: report.result.startTime, endTime: report.result.endTime });
        const waiting = session.awaitingPreparation.get(ref.jobPk) ?? [];
        session.awaitingPreparation.delete(ref.jobPk);
        if (report.result.result === 'success') {
          session.preparedJobs.add(ref.jobPk);
          for (const command of waiting as TaskCommand[]) {
            const run = parseRunId(command.runId);
            const current = run?.kind === 'task' ? currentTask(cluster, session, ref.jobPk, run.taskId, run.attempt) : undefined;
            if (!current) continue;
            markRunning(ctx, ref.jobPk, current.task);
            followUps.push(command);
          }
        } else {
          failWaitingTasks(cluster, session, ref.jobPk, waiting as TaskCommand[], report.result);
        }
      }
    }
  });
  if (followUps.length > 0) session.send(...followUps);
}

/** A failed job preparation task fails the tasks that waited for it on this node. */
function failWaitingTasks(cluster: ClusterContext, session: NodeSession, jobPk: number, waiting: TaskCommand[], result: TaskRunResult): void {
  const ctx = cluster.batch(session.account);
  for (const command of waiting) {
    const ref = parseRunId(command.runId);
    if (ref?.kind !== 'task') continue;
    const current = currentTask(cluster, session, jobPk, ref.taskId, ref.attempt);
    if (!current) continue;
    releaseTask(ctx, session, jobPk, current.job as CloudJob, current.task as CloudTask, {
      how: 'finished',
      outcome: {
        failureInfo: {
          category: 'usererror',
          code: 'JobPreparationTaskFailed',
          message: `The job preparation task failed on node ${session.nodeId}: ${result.failureInfo?.message ?? `exit code ${result.exitCode}`}`,
        },
      },
      retryable: false,
    });
  }
}
