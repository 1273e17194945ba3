import { jobEndedAfterCommit, type BatchContext } from '../context.js';
import type { CloudJob, CloudTask, ExitOptions } from '../models.js';
import { beginJobDisable } from './disableJob.js';
import { beginJobTermination } from './terminateJob.js';

/** The exit options that apply to a completed task (shared/docs/batch-api.md §3.7). */
export function exitOptionsFor(task: CloudTask): ExitOptions {
  const conditions = task.exitConditions ?? {};
  const info = task.executionInfo;
  const code = info.failureInfo?.code;
  if (code === 'FileUploadError' || code?.startsWith('FileUpload')) return { jobAction: 'terminate', ...conditions.fileUploadError };
  const exitCode = info.exitCode;
  if (exitCode === undefined) return { jobAction: 'terminate', ...(conditions.preProcessingError ?? conditions.default) };
  const exact = conditions.exitCodes?.find((c) => c.code === exitCode);
  if (exact) return exact.exitOptions;
  const range = conditions.exitCodeRanges?.find((r) => r.start <= exitCode && exitCode <= r.end);
  if (range) return range.exitOptions;
  return { jobAction: exitCode === 0 ? 'none' : 'terminate', ...conditions.default };
}

/**
 * onTaskFailure: performexitoptionsjobaction applies the failed task's exit options' jobAction
 * (terminate or disable the job). Called in a transaction, after the task completed.
 */
export async function applyOnTaskFailure(ctx: BatchContext, jobPk: number, job: CloudJob, task: CloudTask): Promise<void> {
  if (job.onTaskFailure !== 'performexitoptionsjobaction' || task.executionInfo.result !== 'failure') return;
  if (job.state !== 'active') return;
  const action = exitOptionsFor(task).jobAction ?? 'none';
  if (action === 'terminate') await beginJobTermination(ctx, jobPk, job, 'TaskFailed');
  else if (action === 'disable') await beginJobDisable(ctx, jobPk, job, 'requeue');
  else return;
  // The job's other running tasks leave their nodes (ended or requeued) once this commits.
  jobEndedAfterCommit(ctx, job);
}
