// eslint-disable-next-line no-restricted-imports -- known seam: waiting reasons are pure scheduling predicates, bound for the domain (issue 10 item 4)
import { isActiveDoc, WAITING_REASON, WaitingReasons, withWaitingReason } from '../../../scheduler/waitingReason.js';
import type { CloudTask } from '../../../domain/batch/models.js';
import { BatchError } from '../../../domain/batch/errors.js';
import { getJob } from '../../../domain/batch/jobs/lookup.js';
import { addTask, addTaskCollection } from '../../../domain/batch/tasks/addTasks.js';
import { deleteTask } from '../../../domain/batch/tasks/deleteTask.js';
import { getTask } from '../../../domain/batch/tasks/lookup.js';
import { reactivateTask } from '../../../domain/batch/tasks/reactivateTask.js';
import { terminateTask } from '../../../domain/batch/tasks/terminateTask.js';
import { updateTask } from '../../../domain/batch/tasks/updateTask.js';
import { created, type Handler, resourceHeaders, sendEntity, sendList } from '../call.js';
import { conditionsFor } from '../conditions.js';
import { ENTITY_FIELDS, type FilterFields } from '../odata/filter.js';
import { pageOf, readSelect, render } from '../odata/listing.js';
import { httpDate } from '../respond.js';

export const TASK_FIELDS: FilterFields = {
  ...ENTITY_FIELDS,
  displayName: { type: 'string' },
  commandLine: { type: 'string' },
  requiredSlots: { type: 'number' },
  'executionInfo/startTime': { type: 'datetime' },
  'executionInfo/endTime': { type: 'datetime' },
  'executionInfo/exitCode': { type: 'number' },
  'executionInfo/result': { type: 'enum', column: 'result' },
  'executionInfo/retryCount': { type: 'number' },
  'executionInfo/requeueCount': { type: 'number' },
  'executionInfo/failureInfo/code': { type: 'string' },
  'nodeInfo/nodeId': { type: 'id' },
  'nodeInfo/poolId': { type: 'id' },
};

export const add: Handler = async (call) => {
  const task = await addTask(call.ctx, call.p.jobId!, (await call.body()) ?? {});
  created(call, task, call.urls.task(call.p.jobId!, task.id));
};

/** POST /jobs/{id}/addtaskcollection: 200 with one result per task, in any order. */
export const addCollection: Handler = async (call) => {
  const jobId = call.p.jobId!;
  const results = await addTaskCollection(call.ctx, jobId, (await call.body()) ?? {});
  const value = results.map((r) =>
    r.status === 'success'
      ? { status: 'success', taskId: r.taskId, eTag: r.task.eTag, lastModified: r.task.lastModified, location: call.urls.task(jobId, r.taskId) }
      : { status: r.status, taskId: r.taskId, error: errorBody(r.error) },
  );
  call.respond.json(200, { 'odata.metadata': call.urls.metadata('Microsoft.Azure.Batch.Protocol.Entities.TaskAddCollectionResult'), value });
};

const errorBody = (err: BatchError) => ({
  code: err.code,
  message: { lang: 'en-US', value: err.message },
  ...(err.values.length ? { values: err.values.map(([key, value]) => ({ key, value })) } : {}),
});

export const list: Handler = async ({ req, ctx, respond, urls, p }) => {
  const job = await getJob(ctx, p.jobId!);
  const select = readSelect(req);
  const page = await pageOf(ctx.store.tasks, job.pk, req, TASK_FIELDS);
  const reasons = new WaitingReasons(ctx.store, ctx.account);
  const items: string[] = [];
  for (const r of page.rows) {
    const doc = isActiveDoc(r.doc) ? withWaitingReason(r.doc, await reasons.of(job.pk, job.doc, JSON.parse(r.doc) as CloudTask)) : r.doc;
    items.push(render(doc, urls.task(job.doc.id, r.id), select));
  }
  sendList({ req, respond, urls }, 'tasks', items, page.next);
};

export const get: Handler = async (call) => {
  const { jobPk, job, task } = await getTask(call.ctx, call.p.jobId!, call.p.taskId!);
  const reason = await new WaitingReasons(call.ctx.store, call.ctx.account).of(jobPk, job, task);
  sendEntity(call, reason ? { ...task, [WAITING_REASON]: reason } : task, call.urls.task(job.id, task.id), 'tasks/@Element');
};

export const update: Handler = async (call) => {
  const task = await updateTask(call.ctx, call.p.jobId!, call.p.taskId!, (await call.body()) ?? {}, conditionsFor(call.req));
  call.respond.empty(200, resourceHeaders(task, call.urls.task(call.p.jobId!, task.id)));
};

/** DELETE /jobs/{j}/tasks/{t}: 200, not 202. */
export const remove: Handler = async (call) => {
  await deleteTask(call.ctx, call.p.jobId!, call.p.taskId!, conditionsFor(call.req));
  call.respond.empty(200, { DataServiceId: call.urls.task(call.p.jobId!, call.p.taskId!) });
};

export const terminate: Handler = async (call) => {
  await call.body();
  const task = await terminateTask(call.ctx, call.p.jobId!, call.p.taskId!, conditionsFor(call.req));
  call.respond.empty(204, resourceHeaders(task, call.urls.task(call.p.jobId!, task.id)));
};

export const reactivate: Handler = async (call) => {
  await call.body();
  const task = await reactivateTask(call.ctx, call.p.jobId!, call.p.taskId!, conditionsFor(call.req));
  call.respond.empty(204, resourceHeaders(task, call.urls.task(call.p.jobId!, task.id)));
};

/** GET .../subtasksinfo: a multi-instance task's subtasks, as the node agent records them (none yet). */
export const subtasks: Handler = async (call) => {
  const { task } = await getTask(call.ctx, call.p.jobId!, call.p.taskId!);
  readSelect(call.req);
  const value = (task['subtasks'] as unknown[] | undefined) ?? [];
  call.respond.json(200, { 'odata.metadata': call.urls.metadata('subtaskinformations'), value }, { ETag: task.eTag, 'Last-Modified': httpDate(task.lastModified) });
};
