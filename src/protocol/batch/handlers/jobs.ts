import { batchErrors } from '../../../domain/batch/errors.js';
import { addJob } from '../../../domain/batch/jobs/addJob.js';
import { deleteJob } from '../../../domain/batch/jobs/deleteJob.js';
import { disableJob, enableJob } from '../../../domain/batch/jobs/disableJob.js';
import { getJob } from '../../../domain/batch/jobs/lookup.js';
import { nodeTaskStatuses } from '../../../domain/batch/jobs/nodeTaskStatus.js';
import { terminateJob } from '../../../domain/batch/jobs/terminateJob.js';
import { patchJob, updateJob } from '../../../domain/batch/jobs/updateJob.js';
import type { Condition } from '../../../domain/batch/listQuery.js';
import type { Json } from '../../../domain/batch/schema/validate.js';
import { type Call, created, type Handler, resourceHeaders, sendEntity, sendList } from '../call.js';
import { conditionsFor } from '../conditions.js';
import { ENTITY_FIELDS, type FilterFields } from '../odata/filter.js';
import { pageInMemory, pageOf, readSelect, render, selected } from '../odata/listing.js';

export const JOB_FIELDS: FilterFields = {
  ...ENTITY_FIELDS,
  priority: { type: 'number' },
  displayName: { type: 'string' },
  'executionInfo/startTime': { type: 'datetime' },
  'executionInfo/endTime': { type: 'datetime' },
  'executionInfo/poolId': { type: 'id', column: 'pool_id' },
  'executionInfo/terminateReason': { type: 'string' },
};

const body = async (call: Call): Promise<Json> => (await call.body()) ?? {};

export const add: Handler = async (call) => {
  const job = await addJob(call.ctx, await body(call));
  created(call, job, call.urls.job(job.id));
};

/** GET /jobs, and GET /jobschedules/{id}/jobs (the jobs a schedule made). */
export async function listJobs(call: Call, extraWhere?: Condition): Promise<void> {
  const { req, ctx, respond, urls } = call;
  const select = readSelect(req);
  const page = await pageOf(ctx.store.jobs, ctx.account, req, JOB_FIELDS, extraWhere);
  const items = page.rows.map((r) => render(r.doc, urls.job(r.id), select));
  sendList({ req, respond, urls }, 'jobs', items, page.next);
}

export const list: Handler = async (call) => await listJobs(call);

export const get: Handler = async (call) => {
  const { doc } = await getJob(call.ctx, call.p.jobId!);
  sendEntity(call, doc, call.urls.job(doc.id), 'jobs/@Element');
};

export const remove: Handler = async (call) => {
  await deleteJob(call.ctx, call.p.jobId!, conditionsFor(call.req));
  call.respond.empty(202, { DataServiceId: call.urls.job(call.p.jobId!) });
};

export const patch: Handler = async (call) => {
  const job = await patchJob(call.ctx, call.p.jobId!, await body(call), conditionsFor(call.req));
  call.respond.empty(200, resourceHeaders(job, call.urls.job(job.id)));
};

export const update: Handler = async (call) => {
  const job = await updateJob(call.ctx, call.p.jobId!, await body(call), conditionsFor(call.req));
  call.respond.empty(200, resourceHeaders(job, call.urls.job(job.id)));
};

export const disable: Handler = async (call) => {
  const job = await disableJob(call.ctx, call.p.jobId!, await body(call), conditionsFor(call.req));
  call.respond.empty(202, resourceHeaders(job, call.urls.job(job.id)));
};

export const enable: Handler = async (call) => {
  await call.body();
  const job = await enableJob(call.ctx, call.p.jobId!, conditionsFor(call.req));
  call.respond.empty(202, resourceHeaders(job, call.urls.job(job.id)));
};

export const terminate: Handler = async (call) => {
  const job = await terminateJob(call.ctx, call.p.jobId!, (await call.body()) ?? {}, conditionsFor(call.req));
  call.respond.empty(202, resourceHeaders(job, call.urls.job(job.id)));
};

export const taskCounts: Handler = async (call) => {
  const { pk } = await getJob(call.ctx, call.p.jobId!);
  const counts = await call.ctx.store.tasks.counts(pk);
  call.respond.json(200, { 'odata.metadata': call.urls.metadata('taskcountsresult/@Element'), ...counts });
};

/**
 * GET /jobs/{id}/jobpreparationandreleasetaskstatus: one entry per node that ran the job's
 * preparation task. The node agent (next issue) records those; until then the list is empty.
 */
const NODE_TASK_STATUS_FIELDS: FilterFields = {
  nodeId: { type: 'string' },
  poolId: { type: 'string' },
  'jobPreparationTaskExecutionInfo/state': { type: 'enum' },
  'jobPreparationTaskExecutionInfo/result': { type: 'enum' },
  'jobReleaseTaskExecutionInfo/state': { type: 'enum' },
  'jobReleaseTaskExecutionInfo/result': { type: 'enum' },
};

export const prepAndReleaseStatus: Handler = async (call) => {
  const { doc } = await getJob(call.ctx, call.p.jobId!);
  if (!doc.jobPreparationTask && !doc.jobReleaseTask) throw batchErrors.jobPreparationTaskNotSpecified();
  const select = readSelect(call.req);
  const page = pageInMemory(call.req, nodeTaskStatuses(doc) as unknown as Record<string, unknown>[], NODE_TASK_STATUS_FIELDS, (s) => String(s['nodeId']));
  sendList(
    call,
    'jobpreparationandreleasetaskstatuslist',
    page.items.map((s) => JSON.stringify(selected(s, select))),
    page.next,
  );
};
