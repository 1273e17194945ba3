import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

const jobSpecification = { poolInfo: { poolId: 'pool' } };
const isError = (status: number, code: string) => (e: any) => e.statusCode === status && e.code === code;

describe('Batch job schedules through @azure/batch', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
  });
  after(async () => {
    await kiln.stop();
  });

  it('adds a schedule, gets, lists and checks it exists', async () => {
    const res = await client.jobSchedule.add({
      id: 'sched-1',
      displayName: 'nightly',
      schedule: { recurrenceInterval: 'PT1H', doNotRunUntil: new Date('2030-01-01T00:00:00Z') },
      jobSpecification,
      metadata: [{ name: 'k', value: 'v' }],
    });
    assert.equal(res._response.status, 201);
    assert.equal(res._response.headers.get('dataserviceid'), `${kiln.batchUrl}/jobschedules/sched-1`);
    const schedule = await client.jobSchedule.get('sched-1');
    assert.equal(schedule.id, 'sched-1');
    assert.equal(schedule.url, `${kiln.batchUrl}/jobschedules/sched-1`);
    assert.equal(schedule.state, 'active');
    assert.equal(schedule.displayName, 'nightly');
    assert.equal(schedule.schedule?.recurrenceInterval, 'PT1H');
    assert.equal(schedule.schedule?.doNotRunUntil?.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(schedule.jobSpecification?.poolInfo.poolId, 'pool');
    assert.equal(schedule.jobSpecification?.priority, 0);
    assert.equal(schedule.jobSpecification?.onAllTasksComplete, 'noaction');
    assert.deepEqual(schedule.metadata, [{ name: 'k', value: 'v' }]);
    assert.ok(schedule.eTag && schedule.creationTime instanceof Date);
    // No job is made on the recurrence yet: no nextRunTime, and the schedule says why.
    assert.equal(schedule.executionInfo?.nextRunTime, undefined);
    const raw = (await batchRequest(kiln.batchUrl, 'GET', '/jobschedules/sched-1')).json();
    assert.match(raw.kilnNote, /does not create jobs/);
    assert.equal(raw['odata.metadata'], `${kiln.batchUrl}/$metadata#jobschedules/@Element`);

    assert.equal((await client.jobSchedule.exists('sched-1')).body, true);
    assert.equal((await client.jobSchedule.exists('SCHED-1')).body, true);
    assert.equal((await client.jobSchedule.exists('nope')).body, false);
    const head = await batchRequest(kiln.batchUrl, 'HEAD', '/jobschedules/nope');
    assert.equal(head.status, 404);

    await client.jobSchedule.add({ id: 'sched-2', schedule: {}, jobSpecification });
    await client.jobSchedule.add({ id: 'sched-3', schedule: {}, jobSpecification });
    const all = await client.jobSchedule.list();
    assert.deepEqual(all.map((s) => s.id), ['sched-1', 'sched-2', 'sched-3']);
    const filtered = await client.jobSchedule.list({ jobScheduleListOptions: { filter: "state eq 'active' and startswith(id, 'sched-1')", select: 'id,state' } });
    assert.deepEqual(filtered.map((s) => ({ id: s.id, state: s.state, displayName: s.displayName })), [{ id: 'sched-1', state: 'active', displayName: undefined }]);
    const page = await client.jobSchedule.list({ jobScheduleListOptions: { maxResults: 2 } });
    assert.deepEqual(page.map((s) => s.id), ['sched-1', 'sched-2']);
    assert.ok(page.odatanextLink);
    const next = await client.jobSchedule.listNext(page.odatanextLink!);
    assert.deepEqual(next.map((s) => s.id), ['sched-3']);
    assert.equal(next.odatanextLink, undefined);
  });

  it('refuses a duplicate id (case-insensitively) and unknown schedules', async () => {
    await assert.rejects(client.jobSchedule.add({ id: 'SCHED-1', schedule: {}, jobSpecification }), isError(409, 'JobScheduleExists'));
    await assert.rejects(client.jobSchedule.get('missing'), isError(404, 'JobScheduleNotFound'));
    await assert.rejects(client.jobSchedule.patch('missing', { metadata: [] }), isError(404, 'JobScheduleNotFound'));
    await assert.rejects(client.jobSchedule.terminate('missing'), isError(404, 'JobScheduleNotFound'));
    await assert.rejects(client.job.listFromJobSchedule('missing'), isError(404, 'JobScheduleNotFound'));
    const dup = await batchRequest(kiln.batchUrl, 'POST', '/jobschedules', { body: { id: 'sched-1', schedule: {}, jobSpecification } });
    assert.equal(dup.status, 409);
    assert.equal(batchErrorOf(dup).code, 'JobScheduleExists');
  });

  it('patches and updates a schedule', async () => {
    const before = await client.jobSchedule.get('sched-1');
    const patched = await client.jobSchedule.patch('sched-1', { schedule: { recurrenceInterval: 'PT2H' } });
    assert.equal(patched._response.status, 200);
    let schedule = await client.jobSchedule.get('sched-1');
    assert.equal(schedule.schedule?.recurrenceInterval, 'PT2H');
    assert.equal(schedule.schedule?.doNotRunUntil, undefined);
    assert.deepEqual(schedule.metadata, [{ name: 'k', value: 'v' }]);
    assert.notEqual(schedule.eTag, before.eTag);
    await client.jobSchedule.update('sched-1', { schedule: {}, jobSpecification: { poolInfo: { poolId: 'other' }, priority: 7 } });
    schedule = await client.jobSchedule.get('sched-1');
    assert.deepEqual(schedule.schedule, {});
    assert.equal(schedule.jobSpecification?.poolInfo.poolId, 'other');
    assert.equal(schedule.jobSpecification?.priority, 7);
    assert.equal(schedule.metadata, undefined);
  });

  it('honours If-Match and If-None-Match', async () => {
    const { eTag } = await client.jobSchedule.get('sched-2');
    await assert.rejects(
      client.jobSchedule.patch('sched-2', { metadata: [] }, { jobSchedulePatchOptions: { ifMatch: '"0x0"' } }),
      isError(412, 'ConditionNotMet'),
    );
    await client.jobSchedule.patch('sched-2', { metadata: [{ name: 'a', value: 'b' }] }, { jobSchedulePatchOptions: { ifMatch: eTag } });
    const stale = await batchRequest(kiln.batchUrl, 'PUT', '/jobschedules/sched-2', { body: { schedule: {}, jobSpecification }, headers: { 'If-Match': eTag! } });
    assert.equal(stale.status, 412);
    assert.equal(batchErrorOf(stale).code, 'ConditionNotMet');
    const { eTag: current } = await client.jobSchedule.get('sched-2');
    const noneMatch = await batchRequest(kiln.batchUrl, 'POST', '/jobschedules/sched-2/disable', { headers: { 'If-None-Match': current! } });
    assert.equal(noneMatch.status, 412);
    const notModified = await batchRequest(kiln.batchUrl, 'GET', '/jobschedules/sched-2', { headers: { 'If-None-Match': current! } });
    assert.equal(notModified.status, 304);
  });

  it('disables, enables and terminates a schedule', async () => {
    const disabled = await batchRequest(kiln.batchUrl, 'POST', '/jobschedules/sched-2/disable');
    assert.equal(disabled.status, 204);
    assert.equal(disabled.headers['dataserviceid'], `${kiln.batchUrl}/jobschedules/sched-2`);
    let schedule = await client.jobSchedule.get('sched-2');
    assert.equal(schedule.state, 'disabled');
    assert.equal(schedule.previousState, 'active');
    assert.equal((await client.jobSchedule.disable('sched-2'))._response.status, 204);
    assert.equal((await client.jobSchedule.enable('sched-2'))._response.status, 204);
    schedule = await client.jobSchedule.get('sched-2');
    assert.equal(schedule.state, 'active');
    assert.equal(schedule.previousState, 'disabled');

    const terminated = await batchRequest(kiln.batchUrl, 'POST', '/jobschedules/sched-2/terminate');
    assert.equal(terminated.status, 202);
    schedule = await client.jobSchedule.get('sched-2');
    assert.equal(schedule.state, 'completed');
    assert.equal(schedule.previousState, 'terminating');
    assert.ok(schedule.executionInfo?.endTime instanceof Date);
    await assert.rejects(client.jobSchedule.terminate('sched-2'), isError(409, 'JobScheduleCompleted'));
    await assert.rejects(client.jobSchedule.enable('sched-2'), isError(409, 'JobScheduleCompleted'));
    await assert.rejects(client.jobSchedule.patch('sched-2', { metadata: [] }), isError(409, 'JobScheduleCompleted'));
    const completed = await client.jobSchedule.list({ jobScheduleListOptions: { filter: "state eq 'completed'" } });
    assert.deepEqual(completed.map((s) => s.id), ['sched-2']);
  });

  it("lists a schedule's jobs (none: Kiln makes no jobs from schedules yet)", async () => {
    assert.deepEqual([...(await client.job.listFromJobSchedule('sched-1'))], []);
    const raw = await batchRequest(kiln.batchUrl, 'GET', '/jobschedules/sched-1/jobs');
    assert.equal(raw.status, 200);
    assert.deepEqual(raw.json().value, []);
  });

  it('deletes a schedule', async () => {
    const res = await batchRequest(kiln.batchUrl, 'DELETE', '/jobschedules/sched-3');
    assert.equal(res.status, 202);
    assert.equal((await client.jobSchedule.exists('sched-3')).body, false);
    await assert.rejects(client.jobSchedule.get('sched-3'), isError(404, 'JobScheduleNotFound'));
    assert.equal((await client.jobSchedule.deleteMethod('sched-2'))._response.status, 202);
    await assert.rejects(client.jobSchedule.deleteMethod('sched-2'), isError(404, 'JobScheduleNotFound'));
    // The id is free again.
    await client.jobSchedule.add({ id: 'sched-3', schedule: {}, jobSpecification });
    assert.equal((await client.jobSchedule.get('sched-3')).state, 'active');
  });

  it('validates schedules like jobs', async () => {
    const post = (body: object) => batchRequest(kiln.batchUrl, 'POST', '/jobschedules', { body });
    let res = await post({ id: 's', schedule: {} });
    assert.equal(res.status, 400);
    assert.deepEqual(batchErrorOf(res).values?.[0], { key: 'PropertyName', value: 'jobSpecification' });
    res = await post({ id: 's', schedule: {}, jobSpecification: {} });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'MissingRequiredProperty');
    res = await post({ id: 'bad id', schedule: {}, jobSpecification });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'InvalidPropertyValue');
    res = await post({ id: 's', schedule: {}, jobSpecification, colour: 'red' });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'InvalidRequestBody');
    res = await post({ id: 's', schedule: { recurrenceInterval: 'PT30S' }, jobSpecification });
    assert.equal(res.status, 400);
    assert.deepEqual(batchErrorOf(res).values?.slice(0, 2), [{ key: 'PropertyName', value: 'schedule.recurrenceInterval' }, { key: 'PropertyValue', value: 'PT30S' }]);
    res = await post({ id: 's', schedule: {}, jobSpecification: { ...jobSpecification, priority: 5000 } });
    assert.equal(res.status, 400);
    assert.deepEqual(batchErrorOf(res).values?.[0], { key: 'PropertyName', value: 'jobSpecification.priority' });
    res = await post({ id: 's', schedule: {}, jobSpecification: { ...jobSpecification, onAllTasksComplete: 'sometimes' } });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'InvalidPropertyValue');
    res = await post({ id: 's-case', schedule: {}, jobSpecification: { ...jobSpecification, onAllTasksComplete: 'TerminateJob' } });
    assert.equal(res.status, 201);
    assert.equal((await client.jobSchedule.get('s-case')).jobSpecification?.onAllTasksComplete, 'terminatejob');
    res = await batchRequest(kiln.batchUrl, 'PUT', '/jobschedules/s-case', { body: { schedule: {} } });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'MissingRequiredProperty');
  });
});
