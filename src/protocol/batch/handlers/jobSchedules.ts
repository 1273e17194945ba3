import { addJobSchedule } from '../../../domain/batch/jobSchedules/addJobSchedule.js';
import { deleteJobSchedule } from '../../../domain/batch/jobSchedules/deleteJobSchedule.js';
import { disableJobSchedule, enableJobSchedule } from '../../../domain/batch/jobSchedules/disableJobSchedule.js';
import { getJobSchedule } from '../../../domain/batch/jobSchedules/lookup.js';
import { terminateJobSchedule } from '../../../domain/batch/jobSchedules/terminateJobSchedule.js';
import { patchJobSchedule, updateJobSchedule } from '../../../domain/batch/jobSchedules/updateJobSchedule.js';
import type { CloudJobSchedule } from '../../../domain/batch/models.js';
import type { Json } from '../../../domain/batch/schema/validate.js';
import { type Call, created, type Handler, resourceHeaders, sendEntity, sendList } from '../call.js';
import { checkConditions, conditionsFor } from '../conditions.js';
import { ENTITY_FIELDS, type FilterFields } from '../odata/filter.js';
import { pageOf, readExpand, readSelect, renderDoc } from '../odata/listing.js';
import { listJobs } from './jobs.js';

export const JOB_SCHEDULE_FIELDS: FilterFields = {
  ...ENTITY_FIELDS,
  displayName: { type: 'string' },
  'executionInfo/endTime': { type: 'datetime' },
  'jobSpecification/poolInfo/poolId': { type: 'id' },
};

/** A schedule as the wire shows it: executionInfo.recentJob has the job's URL on the host the client addressed. */
function onTheWire(call: Call, schedule: CloudJobSchedule): CloudJobSchedule {
  const recent = schedule.executionInfo.recentJob;
  if (!recent) return schedule;
  return { ...schedule, executionInfo: { ...schedule.executionInfo, recentJob: { ...recent, url: call.urls.job(recent.id) } } };
}

const body = async (call: Call): Promise<Json> => (await call.body()) ?? {};

export const add: Handler = async (call) => {
  const schedule = await addJobSchedule(call.ctx, await body(call));
  created(call, schedule, call.urls.jobSchedule(schedule.id));
};

export const list: Handler = async (call) => {
  const { req, ctx, respond, urls } = call;
  const select = readSelect(req);
  readExpand(req);
  const page = await pageOf(ctx.store.jobSchedules, ctx.account, req, JOB_SCHEDULE_FIELDS);
  const items = page.rows.map((r) => renderDoc(onTheWire(call, JSON.parse(r.doc) as CloudJobSchedule), urls.jobSchedule(r.id), select));
  sendList({ req, respond, urls }, 'jobschedules', items, page.next);
};

export const get: Handler = async (call) => {
  const { doc } = await getJobSchedule(call.ctx, call.p.jobScheduleId!);
  sendEntity(call, onTheWire(call, doc), call.urls.jobSchedule(doc.id), 'jobschedules/@Element');
};

/** HEAD /jobschedules/{id}: 200 if it exists, 404 if not (both "success" to the SDKs), no body. */
export const exists: Handler = async (call) => {
  const { doc } = await getJobSchedule(call.ctx, call.p.jobScheduleId!);
  checkConditions(call.req, doc, true);
  call.respond.empty(200, resourceHeaders(doc, call.urls.jobSchedule(doc.id)));
};

export const remove: Handler = async (call) => {
  await deleteJobSchedule(call.ctx, call.p.jobScheduleId!, conditionsFor(call.req));
  call.respond.empty(202, { DataServiceId: call.urls.jobSchedule(call.p.jobScheduleId!) });
};

export const patch: Handler = async (call) => {
  const schedule = await patchJobSchedule(call.ctx, call.p.jobScheduleId!, await body(call), conditionsFor(call.req));
  call.respond.empty(200, resourceHeaders(schedule, call.urls.jobSchedule(schedule.id)));
};

export const update: Handler = async (call) => {
  const schedule = await updateJobSchedule(call.ctx, call.p.jobScheduleId!, await body(call), conditionsFor(call.req));
  call.respond.empty(200, resourceHeaders(schedule, call.urls.jobSchedule(schedule.id)));
};

export const disable: Handler = async (call) => {
  await call.body();
  const schedule = await disableJobSchedule(call.ctx, call.p.jobScheduleId!, conditionsFor(call.req));
  call.respond.empty(204, resourceHeaders(schedule, call.urls.jobSchedule(schedule.id)));
};

export const enable: Handler = async (call) => {
  await call.body();
  const schedule = await enableJobSchedule(call.ctx, call.p.jobScheduleId!, conditionsFor(call.req));
  call.respond.empty(204, resourceHeaders(schedule, call.urls.jobSchedule(schedule.id)));
};

export const terminate: Handler = async (call) => {
  await call.body();
  const schedule = await terminateJobSchedule(call.ctx, call.p.jobScheduleId!, conditionsFor(call.req));
  call.respond.empty(202, resourceHeaders(schedule, call.urls.jobSchedule(schedule.id)));
};

/** GET /jobschedules/{id}/jobs: the jobs the schedule made that still exist. */
export const listJobsOf: Handler = async (call) => {
  const { pk } = await getJobSchedule(call.ctx, call.p.jobScheduleId!);
  await listJobs(call, { kind: 'cmp', column: 'schedule_pk', op: 'eq', value: pk });
};
