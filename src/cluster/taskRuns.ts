import type { BatchContext } from '../domain/batch/context.js';
import { completeTask, type TaskOutcome } from '../domain/batch/tasks/completeTask.js';
import { forgetTakenBack, isTakenBack, markTakenBack, requeueTask, retryTask, unassignTask } from '../domain/batch/tasks/dispatch.js';
import { finishJobDeletion } from '../domain/batch/jobs/deleteJob.js';
import { finishJobDisable } from '../domain/batch/jobs/disableJob.js';
import { finishJobTermination } from '../domain/batch/jobs/terminateJob.js';
import type { CloudTask, StoredJob } from '../domain/batch/models.js';
import { setNodeLoad } from '../domain/batch/nodes/lifecycle.js';
import type { NodeSession } from './session.js';
import { taskRunId } from './runs.js';

/**
 * How a task run leaves a node: finished (completed, or retried), taken back (requeued), given
 * back unstarted (unassigned: the node cannot run the job's tasks), or ended by the user. Each frees the node's slots and lets a job that waited on its tasks move on.
 * Called inside a transaction.
 */
export type Release = { how: 'finished'; outcome: TaskOutcome; retryable: boolean } | { how: 'requeued' } | { how: 'unassigned' } | { how: 'ended'; outcome: TaskOutcome };

export async function releaseTask(ctx: BatchContext, session: NodeSession | undefined, job: StoredJob, task: CloudTask, asked: Release): Promise<void> {
  const jobPk = job.pk;
  // A run being taken back and killed ends as a requeue; one that succeeded before the kill stands.
  const release: Release = asked.how === 'finished' && isTakenBack(task) && failed(asked.outcome) ? { how: 'requeued' } : asked;
  forgetTakenBack(task); // every branch below saves the task
  const id = taskRunId(job, task);
  const held = session?.tasks.get(id);
  session?.tasks.delete(id);
  let succeeded = 0;
  if (release.how === 'requeued') {
    await requeueTask(ctx, jobPk, task);
  } else if (release.how === 'unassigned') {
    await unassignTask(ctx, jobPk, task);
  } else if (release.how === 'ended') {
    await completeTask(ctx, jobPk, job.doc, task, { ...release.outcome, endedByUser: true });
  } else if (!(release.retryable && failed(release.outcome) && (await retryTask(ctx, jobPk, task)))) {
    await completeTask(ctx, jobPk, job.doc, task, release.outcome);
    succeeded = task.executionInfo.result === 'success' ? 1 : 0;
  }
  if (session && held) {
    const node = await ctx.store.nodes.get(session.poolPk, session.nodeId);
    if (node) await setNodeLoad(ctx, session.poolPk, node.doc, session.tasks.size, session.usedSlots, { run: release.how === 'finished' ? 1 : 0, succeeded });
  }
  await settleJob(ctx, jobPk);
}

/**
 * Requeues a running task. From a node whose session holds the run, the run is killed first and
 * the task requeued when the agent reports it ended (markTakenBack), so that it never runs twice at
 * once; the node's loss ends the wait (loseNode: its runs are fenced or cut off by then). Without
 * such a session (a lost node, or one whose agent restarted) it is requeued at once.
 * Returns whether the task still waits for its run to end.
 */
export async function takeBackTask(ctx: BatchContext, session: NodeSession | undefined, job: StoredJob, task: CloudTask): Promise<boolean> {
  const id = taskRunId(job, task);
  if (!session || session.closed || !session.tasks.has(id)) {
    await releaseTask(ctx, session, job, task, { how: 'requeued' });
    return false;
  }
  await markTakenBack(ctx, job.pk, task);
  session.send({ type: 'killTask', runId: id });
  return true;
}

const failed = (o: TaskOutcome): boolean => o.failureInfo !== undefined || (o.exitCode !== undefined && o.exitCode !== 0);

/** A job waiting for its tasks to leave the nodes (terminating, disabling, deleting) moves on when they have. */
export async function settleJob(ctx: BatchContext, jobPk: number): Promise<void> {
  const job = await ctx.store.jobs.getByPk(jobPk);
  if (!job) return;
  if (job.doc.state === 'terminating') await finishJobTermination(ctx, jobPk, job.doc);
  else if (job.doc.state === 'disabling') await finishJobDisable(ctx, jobPk, job.doc);
  else if (job.doc.state === 'deleting') await finishJobDeletion(ctx, jobPk, job.doc);
}
