import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, stopKiln, taskStdout, waitForTask } from '../nodes/helpers.js';

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
    // Its first run is at doNotRunUntil; Kiln's own bookkeeping stays off the wire.
    assert.equal(schedule.executionInfo?.nextRunTime?.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(schedule.executionInfo?.recentJob, undefined);
    const raw = (await batchRequest(kiln.batchUrl, 'GET', '/jobschedules/sched-1')).json();
    assert.equal(raw.kilnNote, undefined);
    assert.deepEqual(
      Object.keys(raw).filter((k) => k.startsWith('_')),
      [],
    );
    assert.equal(raw['odata.metadata'], `${kiln.batchUrl}/$metadata#jobschedules/@Element`);

    assert.equal((await client.jobSchedule.exists('sched-1')).body, true);
    assert.equal((await client.jobSchedule.exists('SCHED-1')).body, true);
    assert.equal((await client.jobSchedule.exists('nope')).body, false);
    const head = await batchRequest(kiln.batchUrl, 'HEAD', '/jobschedules/nope');
    assert.equal(head.status, 404);

    await client.jobSchedule.add({ id: 'sched-2', schedule: {}, jobSpecification });
    await client.jobSchedule.add({ id: 'sched-3', schedule: {}, jobSpecification });
    const all = await client.jobSchedule.list();
    assert.deepEqual(
      all.map((s) => s.id),
      ['sched-1', 'sched-2', 'sched-3'],
    );
    const filtered = await client.jobSchedule.list({ jobScheduleListOptions: { filter: "state eq 'active' and startswith(id, 'sched-1')", select: 'id,state' } });
    assert.deepEqual(
      filtered.map((s) => ({ id: s.id, state: s.state, displayName: s.displayName })),
      [{ id: 'sched-1', state: 'active', displayName: undefined }],
    );
    const page = await client.jobSchedule.list({ jobScheduleListOptions: { maxResults: 2 } });
    assert.deepEqual(
      page.map((s) => s.id),
      ['sched-1', 'sched-2'],
    );
    assert.ok(page.odatanextLink);
    const next = await client.jobSchedule.listNext(page.odatanextLink!);
    assert.deepEqual(
      next.map((s) => s.id),
      ['sched-3'],
    );
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
    await assert.rejects(client.jobSchedule.patch('sched-2', { metadata: [] }, { jobSchedulePatchOptions: { ifMatch: '"0x0"' } }), isError(412, 'ConditionNotMet'));
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

    // `schedule: {}` made one job at once; terminating the schedule terminates it, and then completes.
    assert.equal((await client.job.get('sched-2:job-1')).state, 'active');
    const terminated = await batchRequest(kiln.batchUrl, 'POST', '/jobschedules/sched-2/terminate');
    assert.equal(terminated.status, 202);
    schedule = await client.jobSchedule.get('sched-2');
    assert.equal(schedule.state, 'completed');
    assert.equal(schedule.previousState, 'terminating');
    assert.ok(schedule.executionInfo?.endTime instanceof Date);
    assert.equal(schedule.executionInfo?.nextRunTime, undefined);
    const job = await client.job.get('sched-2:job-1');
    assert.equal(job.state, 'completed');
    assert.equal(job.executionInfo?.terminateReason, 'TerminateJobSchedule');
    await assert.rejects(client.jobSchedule.terminate('sched-2'), isError(409, 'JobScheduleCompleted'));
    await assert.rejects(client.jobSchedule.enable('sched-2'), isError(409, 'JobScheduleCompleted'));
    await assert.rejects(client.jobSchedule.patch('sched-2', { metadata: [] }), isError(409, 'JobScheduleCompleted'));
    const completed = await client.jobSchedule.list({ jobScheduleListOptions: { filter: "state eq 'completed'" } });
    assert.deepEqual(
      completed.map((s) => s.id),
      ['sched-2'],
    );
  });

  it("lists a schedule's jobs", async () => {
    // sched-1's new schedule (patched above, without doNotRunUntil) ran at once; the one after it
    // waits for that job, which is still active.
    assert.deepEqual(
      [...(await client.job.listFromJobSchedule('sched-1'))].map((j) => j.id),
      ['sched-1:job-1'],
    );
    const raw = await batchRequest(kiln.batchUrl, 'GET', '/jobschedules/sched-1/jobs');
    assert.equal(raw.status, 200);
    assert.deepEqual(
      raw.json().value.map((j: { id: string }) => j.id),
      ['sched-1:job-1'],
    );
    assert.deepEqual(
      Object.keys(raw.json().value[0]).filter((k) => k.startsWith('_')),
      [],
    );
    assert.deepEqual(
      [...(await client.job.listFromJobSchedule('sched-3'))].map((j) => j.id),
      ['sched-3:job-1'],
    );
  });

  it('deletes a schedule', async () => {
    const res = await batchRequest(kiln.batchUrl, 'DELETE', '/jobschedules/sched-3');
    assert.equal(res.status, 202);
    assert.equal((await client.jobSchedule.exists('sched-3')).body, false);
    // Its jobs go with it.
    await assert.rejects(client.job.get('sched-3:job-1'), isError(404, 'JobNotFound'));
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
    assert.deepEqual(batchErrorOf(res).values?.slice(0, 2), [
      { key: 'PropertyName', value: 'schedule.recurrenceInterval' },
      { key: 'PropertyValue', value: 'PT30S' },
    ]);
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

/** A time `ms` from now, at a whole millisecond (what the wire keeps). */
const inMs = (ms: number) => new Date(Date.now() + ms);
/** Waits, with a deadline, until the wall clock has passed `t` (the server's runs come due on it). */
const passed = (t: Date) => waitFor(`the clock to pass ${t.toISOString()}`, () => (Date.now() > t.getTime() + 50 ? true : undefined));

describe('Job schedules make jobs, through @azure/batch', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
  });
  after(async () => {
    await kiln.stop();
  });

  it("makes a job from the jobSpecification at doNotRunUntil, with Azure's id and executionInfo", async () => {
    const due = inMs(1500);
    await client.jobSchedule.add({
      id: 'nightly',
      schedule: { doNotRunUntil: due, recurrenceInterval: 'PT1M', startWindow: 'PT5M' },
      jobSpecification: {
        poolInfo: { poolId: 'somepool' },
        displayName: 'nightly run',
        priority: 42,
        constraints: { maxTaskRetryCount: 2 },
        commonEnvironmentSettings: [{ name: 'COLOUR', value: 'blue' }],
        metadata: [{ name: 'from', value: 'schedule' }],
      },
    });
    let schedule = await client.jobSchedule.get('nightly');
    assert.equal(schedule.executionInfo?.nextRunTime?.toISOString(), due.toISOString());
    assert.equal(schedule.executionInfo?.recentJob, undefined);
    assert.deepEqual([...(await client.job.listFromJobSchedule('nightly'))], []);

    const [job] = await waitFor('the first job', async () => {
      const jobs = [...(await client.job.listFromJobSchedule('nightly'))];
      return jobs.length > 0 ? jobs : undefined;
    });
    assert.equal(job!.id, 'nightly:job-1');
    assert.equal(job!.url, `${kiln.batchUrl}/jobs/nightly%3Ajob-1`);
    assert.ok(job!.creationTime!.getTime() >= due.getTime());
    assert.equal(job!.state, 'active');
    assert.equal(job!.displayName, 'nightly run');
    assert.equal(job!.priority, 42);
    assert.equal(job!.constraints?.maxTaskRetryCount, 2);
    assert.equal(job!.poolInfo?.poolId, 'somepool');
    assert.deepEqual(job!.commonEnvironmentSettings, [{ name: 'COLOUR', value: 'blue' }]);
    assert.deepEqual(job!.metadata, [{ name: 'from', value: 'schedule' }]);
    assert.equal((await client.job.get('nightly:job-1')).id, 'nightly:job-1');
    assert.deepEqual(
      [...(await client.job.list({ jobListOptions: { filter: "startswith(id, 'nightly')" } }))].map((j) => j.id),
      ['nightly:job-1'],
    );

    schedule = await client.jobSchedule.get('nightly');
    assert.deepEqual(schedule.executionInfo?.recentJob, { id: 'nightly:job-1', url: `${kiln.batchUrl}/jobs/nightly%3Ajob-1` });
    // The next run is one recurrence after the due time, however late this one was made.
    assert.equal(schedule.executionInfo?.nextRunTime?.toISOString(), new Date(due.getTime() + 60_000).toISOString());
    assert.equal(schedule.state, 'active');
    const listed = (await client.jobSchedule.list({ jobScheduleListOptions: { filter: "id eq 'nightly'" } }))[0]!;
    assert.equal(listed.executionInfo?.recentJob?.url, `${kiln.batchUrl}/jobs/nightly%3Ajob-1`);
  });

  it('completes a schedule once doNotRunAfter has passed and its job is done', async () => {
    const until = inMs(500);
    const after = inMs(1500);
    await client.jobSchedule.add({
      id: 'ends',
      schedule: { doNotRunUntil: until, doNotRunAfter: after, recurrenceInterval: 'PT1M' },
      // A job without tasks that terminates when all its tasks are done completes at once.
      jobSpecification: { poolInfo: { poolId: 'somepool' }, onAllTasksComplete: 'terminatejob' },
    });
    const schedule = await waitFor('the schedule to complete', async () => {
      const s = await client.jobSchedule.get('ends');
      return s.state === 'completed' ? s : undefined;
    });
    assert.ok(Date.now() > after.getTime());
    assert.equal(schedule.previousState, 'terminating');
    assert.ok(schedule.executionInfo!.endTime!.getTime() > after.getTime());
    assert.equal(schedule.executionInfo?.nextRunTime, undefined);
    assert.equal(schedule.executionInfo?.recentJob?.id, 'ends:job-1');
    const jobs = [...(await client.job.listFromJobSchedule('ends'))];
    assert.deepEqual(
      jobs.map((j) => [j.id, j.state, j.executionInfo?.terminateReason]),
      [['ends:job-1', 'completed', 'AllTasksComplete']],
    );
  });

  it('keeps at most one active job: a run that falls due waits for the previous job to finish', async () => {
    await client.jobSchedule.add({ id: 'one', schedule: {}, jobSpecification: { poolInfo: { poolId: 'somepool' } } });
    assert.equal((await client.job.get('one:job-1')).state, 'active');
    // A new schedule starts over: due at once, but job-1 is still active.
    await client.jobSchedule.patch('one', { schedule: { recurrenceInterval: 'PT1M' } });
    let schedule = await client.jobSchedule.get('one');
    assert.ok(schedule.executionInfo!.nextRunTime!.getTime() <= Date.now());
    assert.deepEqual(
      [...(await client.job.listFromJobSchedule('one'))].map((j) => j.id),
      ['one:job-1'],
    );
    // The job ends: the waiting run is made.
    await client.job.terminate('one:job-1');
    const jobs = await waitFor('the second job', async () => {
      const list = [...(await client.job.listFromJobSchedule('one'))];
      return list.length === 2 ? list : undefined;
    });
    assert.deepEqual(
      jobs.map((j) => [j.id, j.state]),
      [
        ['one:job-1', 'completed'],
        ['one:job-2', 'active'],
      ],
    );
    schedule = await client.jobSchedule.get('one');
    assert.equal(schedule.executionInfo?.recentJob?.id, 'one:job-2');
    assert.ok(schedule.executionInfo!.nextRunTime!.getTime() > Date.now());
  });

  it('makes no job while disabled, and the due run on enable', async () => {
    const due = inMs(300);
    await client.jobSchedule.add({ id: 'paused', schedule: { doNotRunUntil: due }, jobSpecification: { poolInfo: { poolId: 'somepool' } } });
    await client.jobSchedule.disable('paused');
    await passed(due);
    // Other schedules' runs reach the server's timer meanwhile; this one made nothing.
    assert.deepEqual([...(await client.job.listFromJobSchedule('paused'))], []);
    const disabled = await client.jobSchedule.get('paused');
    assert.equal(disabled.state, 'disabled');
    assert.equal(disabled.executionInfo?.nextRunTime?.toISOString(), due.toISOString());
    await client.jobSchedule.enable('paused');
    assert.deepEqual(
      [...(await client.job.listFromJobSchedule('paused'))].map((j) => j.id),
      ['paused:job-1'],
    );
    // No recurrence: that was its one run, and it completes once the job does.
    const schedule = await client.jobSchedule.get('paused');
    assert.equal(schedule.state, 'active');
    assert.equal(schedule.executionInfo?.nextRunTime, undefined);
    await client.job.terminate('paused:job-1');
    await waitFor('the schedule to complete', async () => ((await client.jobSchedule.get('paused')).state === 'completed' ? true : undefined));
  });

  it('deletes its jobs with it', async () => {
    await client.jobSchedule.add({ id: 'gone', schedule: {}, jobSpecification: { poolInfo: { poolId: 'somepool' } } });
    assert.equal((await client.job.get('gone:job-1')).state, 'active');
    await client.jobSchedule.deleteMethod('gone');
    await assert.rejects(client.jobSchedule.get('gone'), isError(404, 'JobScheduleNotFound'));
    await assert.rejects(client.job.get('gone:job-1'), isError(404, 'JobNotFound'));
  });

  it('shares ids with jobs, as Azure does', async () => {
    await client.job.add({ id: 'shared-id', poolInfo: { poolId: 'somepool' } });
    await assert.rejects(client.jobSchedule.add({ id: 'SHARED-ID', schedule: {}, jobSpecification: { poolInfo: { poolId: 'p' } } }), isError(409, 'JobWithSameIdExists'));
    await client.jobSchedule.add({ id: 'sched-id', schedule: { doNotRunUntil: new Date('2030-01-01T00:00:00Z') }, jobSpecification: { poolInfo: { poolId: 'p' } } });
    await assert.rejects(client.job.add({ id: 'sched-id', poolInfo: { poolId: 'p' } }), isError(409, 'JobScheduleWithSameIdExists'));
    // A client cannot name a job as a schedule names its jobs.
    const res = await batchRequest(kiln.batchUrl, 'POST', '/jobs', { body: { id: 'sched-id:job-1', poolInfo: { poolId: 'p' } } });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'InvalidPropertyValue');
  });

  it('refuses an auto pool that lives as long as the schedule', async () => {
    const res = await batchRequest(kiln.batchUrl, 'POST', '/jobschedules', {
      body: {
        id: 'autopool',
        schedule: {},
        jobSpecification: {
          poolInfo: {
            autoPoolSpecification: {
              poolLifetimeOption: 'jobschedule',
              pool: {
                vmSize: 'standard_d2s_v3',
                targetDedicatedNodes: 0,
                virtualMachineConfiguration: { imageReference: { publisher: 'debian', offer: 'debian-12', sku: '12' }, nodeAgentSKUId: 'batch.node.debian 12' },
              },
            },
          },
        },
      },
    });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'InvalidPropertyValue');
    assert.match(batchErrorOf(res).message?.value ?? '', /Kiln does not support/);
    assert.deepEqual(batchErrorOf(res).values?.[0], { key: 'PropertyName', value: 'jobSpecification.poolInfo.autoPoolSpecification.poolLifetimeOption' });
  });
});

describe('Job schedules across a restart (kill -9)', () => {
  it('keeps the next run time, and makes a run that fell due while Kiln was down', async () => {
    let kiln = await startKiln();
    try {
      let client = kiln.batchClient();
      const due = inMs(1500);
      await client.jobSchedule.add({
        id: 'restart',
        schedule: { doNotRunUntil: due, recurrenceInterval: 'PT1M', startWindow: 'PT10M' },
        jobSpecification: { poolInfo: { poolId: 'p' } },
      });
      await client.jobSchedule.add({
        id: 'later',
        schedule: { doNotRunUntil: new Date('2031-06-01T12:00:00Z'), recurrenceInterval: 'P1D' },
        jobSpecification: { poolInfo: { poolId: 'p' } },
      });
      assert.deepEqual([...(await client.job.list())], []);
      await kiln.kill9();
      await passed(due);
      kiln = await startKiln({ dataDir: kiln.dataDir, nodesDir: kiln.nodesDir });
      client = kiln.batchClient();
      const job = await waitFor('the run that fell due', async () => (await client.job.list()).find((j) => j.id === 'restart:job-1'));
      assert.ok(job.creationTime!.getTime() > due.getTime());
      const restart = await client.jobSchedule.get('restart');
      assert.equal(restart.executionInfo?.recentJob?.id, 'restart:job-1');
      // The grid is the stored one: a minute after the due time, not after the restart.
      assert.equal(restart.executionInfo?.nextRunTime?.toISOString(), new Date(due.getTime() + 60_000).toISOString());
      assert.equal((await client.jobSchedule.get('later')).executionInfo?.nextRunTime?.toISOString(), '2031-06-01T12:00:00.000Z');
      assert.deepEqual(
        [...(await client.job.list())].map((j) => j.id),
        ['restart:job-1'],
      );
    } finally {
      await kiln.stop();
    }
  });
});

describe('Job schedules with their jobs running on nodes', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    await addPool(client, 'sched-pool', 1);
  });
  after(async () => {
    await stopKiln(kiln);
  });

  it("completes a one-off schedule when its job's job manager task has run", async () => {
    await client.jobSchedule.add({
      id: 'jm',
      schedule: {},
      jobSpecification: {
        poolInfo: { poolId: 'sched-pool' },
        // killJobOnCompletion (true by default) ends the job with its manager.
        jobManagerTask: { id: 'manager', commandLine: '/bin/sh -c "echo $AZ_BATCH_JOB_ID"' },
      },
    });
    const task = await waitForTask(client, 'jm:job-1', 'manager');
    assert.equal(task.executionInfo?.exitCode, 0, JSON.stringify(task.executionInfo));
    assert.equal(await taskStdout(kiln, client, 'jm:job-1', 'manager'), 'jm:job-1\n');
    // On the node, where Azure puts a schedule's job: workitems/<scheduleId>/job-<n>/<taskId>.
    assert.match(task.nodeInfo?.taskRootDirectory ?? '', /^workitems\/jm\/job-1\/manager$/);
    // The job ends with its manager task (a node's report), and the schedule with its one job.
    const schedule = await waitFor('the schedule to complete', async () => {
      const s = await client.jobSchedule.get('jm');
      return s.state === 'completed' ? s : undefined;
    });
    assert.equal((await client.job.get('jm:job-1')).executionInfo?.terminateReason, 'JMComplete');
    assert.ok(schedule.executionInfo?.endTime instanceof Date);
  });

  it('terminating a schedule terminates its running job, then completes', async () => {
    await client.jobSchedule.add({
      id: 'long',
      schedule: { recurrenceInterval: 'PT1H' },
      jobSpecification: { poolInfo: { poolId: 'sched-pool' }, jobManagerTask: { id: 'manager', commandLine: '/bin/sh -c "sleep 60"' } },
    });
    await waitForTask(client, 'long:job-1', 'manager', 'running');
    await client.jobSchedule.terminate('long');
    const schedule = await waitFor('the schedule to complete', async () => {
      const s = await client.jobSchedule.get('long');
      return s.state === 'completed' ? s : undefined;
    });
    assert.equal(schedule.previousState, 'terminating');
    const job = await client.job.get('long:job-1');
    assert.deepEqual([job.state, job.executionInfo?.terminateReason], ['completed', 'TerminateJobSchedule']);
    assert.equal((await client.task.get('long:job-1', 'manager')).state, 'completed');
  });
});
