import type { BatchContext } from '../context.js';
import { touch, transition, type CloudJob, type CloudTask, type NodeInfo } from '../models.js';
import { saveTask } from './lookup.js';

/**
 * The scheduler's transitions (next issue): a task given to a node goes active → preparing (while
 * the job preparation task runs there) → running; a task taken off a node without finishing goes
 * back to active (requeue, which does not use up retries) or is retried after a failed run.
 * Each is called in a transaction with the task as just read.
 */
export async function assignTask(ctx: BatchContext, jobPk: number, job: CloudJob, task: CloudTask, nodeInfo: NodeInfo): Promise<void> {
  transition(task, job.jobPreparationTask ? 'preparing' : 'running', ctx.now);
  task.nodeInfo = nodeInfo;
  if (task.state === 'running') task.executionInfo.startTime = ctx.now.toISOString();
  touch(task, ctx.now);
  await saveTask(ctx, jobPk, task);
}

export async function markRunning(ctx: BatchContext, jobPk: number, task: CloudTask): Promise<void> {
  transition(task, 'running', ctx.now);
  task.executionInfo.startTime = ctx.now.toISOString();
  touch(task, ctx.now);
  await saveTask(ctx, jobPk, task);
}

/**
 * A running task being taken back from a live node (requeued by a node operation or a job's
 * disable): it stays running there, holding its slots, until the node's agent reports that run
 * ended, and only then goes back to the queue. Otherwise it could start elsewhere while the old run
 * is still being killed. Stored, so that a report arriving after a server restart is a requeue too.
 */
const TAKEN_BACK = '_takenBack';
export async function markTakenBack(ctx: BatchContext, jobPk: number, task: CloudTask): Promise<void> {
  if (task[TAKEN_BACK] === true) return;
  task[TAKEN_BACK] = true;
  await saveTask(ctx, jobPk, task);
}
export const isTakenBack = (task: CloudTask): boolean => task[TAKEN_BACK] === true;
/** The run left its node (however): the mark goes with the next save of the task. */
export const forgetTakenBack = (task: CloudTask): void => {
  delete task[TAKEN_BACK];
};

export async function requeueTask(ctx: BatchContext, jobPk: number, task: CloudTask): Promise<void> {
  transition(task, 'active', ctx.now);
  task.executionInfo.requeueCount += 1;
  task.executionInfo.lastRequeueTime = ctx.now.toISOString();
  delete task.nodeInfo;
  touch(task, ctx.now);
  await saveTask(ctx, jobPk, task);
}

/**
 * A task given to a node that could not start it there (the job preparation task failed on that
 * node) goes back to the queue: it never ran, so neither a retry nor a requeue is counted.
 */
export async function unassignTask(ctx: BatchContext, jobPk: number, task: CloudTask): Promise<void> {
  transition(task, 'active', ctx.now);
  delete task.nodeInfo;
  delete task.executionInfo.startTime;
  touch(task, ctx.now);
  await saveTask(ctx, jobPk, task);
}

/** After a failed run with retries left (maxTaskRetryCount -1 is unlimited): back to active. */
export async function retryTask(ctx: BatchContext, jobPk: number, task: CloudTask): Promise<boolean> {
  const max = task.constraints.maxTaskRetryCount;
  if (max !== -1 && task.executionInfo.retryCount >= max) return false;
  transition(task, 'active', ctx.now);
  task.executionInfo.retryCount += 1;
  task.executionInfo.lastRetryTime = ctx.now.toISOString();
  delete task.nodeInfo;
  touch(task, ctx.now);
  await saveTask(ctx, jobPk, task);
  return true;
}
