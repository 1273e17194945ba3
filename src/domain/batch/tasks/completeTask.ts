import { jobEndedAfterCommit, type BatchContext } from '../context.js';
import { beginJobTermination } from '../jobs/terminateJob.js';
import { applyOnAllTasksComplete } from '../jobs/onAllTasksComplete.js';
import { applyOnTaskFailure } from '../jobs/onTaskFailure.js';
import { touch, transition, type CloudJob, type CloudTask, type FailureInfo } from '../models.js';
import { saveTask } from './lookup.js';

/** How a task ended: its exit code if its process ran, a failure if it failed or was ended. */
export interface TaskOutcome {
  exitCode?: number;
  failureInfo?: FailureInfo;
  /** Ended by its user (terminate): not a failure the job's onTaskFailure acts on. */
  endedByUser?: boolean;
}

/**
 * Moves a task to `completed` and lets the job react: onTaskFailure (for a failure) then
 * onAllTasksComplete. The one way a task completes, for terminate and for the node agent alike.
 * Called in a transaction; the caller saves nothing else.
 */
export async function completeTask(ctx: BatchContext, jobPk: number, job: CloudJob, task: CloudTask, outcome: TaskOutcome): Promise<void> {
  const info = task.executionInfo;
  transition(task, 'completed', ctx.now);
  info.endTime = ctx.now.toISOString();
  if (outcome.exitCode !== undefined) info.exitCode = outcome.exitCode;
  else delete info.exitCode;
  if (outcome.failureInfo) info.failureInfo = outcome.failureInfo;
  else delete info.failureInfo;
  info.result = outcome.failureInfo || (outcome.exitCode !== undefined && outcome.exitCode !== 0) ? 'failure' : 'success';
  touch(task, ctx.now);
  await saveTask(ctx, jobPk, task);
  if (endsJob(job, task)) {
    // killJobOnCompletion (true unless set false): "when the Job Manager Task completes, the Batch
    // service marks the Job as complete. If any Tasks are still running at this time (other than
    // Job Release), those Tasks are terminated" (JobManagerTask).
    await beginJobTermination(ctx, jobPk, job, 'JMComplete');
    jobEndedAfterCommit(ctx, job);
    return;
  }
  if (!outcome.endedByUser) await applyOnTaskFailure(ctx, jobPk, job, task);
  await applyOnAllTasksComplete(ctx, jobPk, job);
}

const endsJob = (job: CloudJob, task: CloudTask): boolean =>
  task['jobManager'] === true && task['killJobOnCompletion'] !== false && (job.state === 'active' || job.state === 'disabled');
