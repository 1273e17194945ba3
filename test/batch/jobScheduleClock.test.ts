import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchContext } from '../../src/domain/batch/context.js';
import { terminateJob } from '../../src/domain/batch/jobs/terminateJob.js';
import { addJobSchedule } from '../../src/domain/batch/jobSchedules/addJobSchedule.js';
import { disableJobSchedule, enableJobSchedule } from '../../src/domain/batch/jobSchedules/disableJobSchedule.js';
import { runJobSchedules } from '../../src/domain/batch/jobSchedules/runSchedules.js';
import type { CloudJob, CloudJobSchedule } from '../../src/domain/batch/models.js';
import type { BatchStore } from '../../src/domain/batch/store.js';
import { sqliteBatchStore } from '../../src/persistence/batch/store.js';
import { openStorage, type Storage } from '../../src/persistence/storage.js';
import { jobScheduleTimer } from '../../src/server/jobScheduleTimer.js';
import { tempDir } from '../helpers/kiln.js';

/**
 * The schedule runner on a clock the test sets: Kiln's own store (SQLite in a temporary data
 * directory) and domain, with no server, so that minutes and hours of recurrence pass at once.
 */
const T0 = Date.parse('2030-03-01T10:00:00.000Z');
const MIN = 60_000;
const at = (ms: number) => new Date(T0 + ms).toISOString();

describe('Job schedule runs on an injected clock', () => {
  let storage: Storage;
  let store: BatchStore;
  before(() => {
    storage = openStorage(tempDir());
    store = sqliteBatchStore(storage.db);
  });
  after(() => storage.close());

  const account = (name: string) => {
    const ctx = (ms: number): BatchContext => ({ store, account: name, now: new Date(T0 + ms), hooks: {} });
    return {
      ctx,
      run: async (ms: number) => await runJobSchedules(ctx(ms)),
      schedule: async (id: string) => (await store.jobSchedules.get(name, id))!.doc as CloudJobSchedule,
      jobs: async () => (await store.jobs.list(name, { limit: 1000 })).map((r) => JSON.parse(r.doc) as CloudJob).map((j) => [j.id, j.state, j.creationTime]),
    };
  };

  it('runs on a fixed grid, one active job at a time, a waiting run made when the job ends', async () => {
    const a = account('grid');
    await addJobSchedule(a.ctx(0), { id: 's', schedule: { recurrenceInterval: 'PT1M' }, jobSpecification: { poolInfo: { poolId: 'p' } } });
    assert.deepEqual(await a.jobs(), [['s:job-1', 'active', at(0)]]);
    assert.equal((await a.schedule('s')).executionInfo.nextRunTime, at(MIN));
    // Not due yet: nothing, and the runner says when to come back.
    assert.equal((await a.run(30_000)).runs[0]!.wakeAt, T0 + MIN);
    // Due, but job-1 is active: the run waits, until the next run is due at the latest.
    const waiting = (await a.run(MIN)).runs[0]!;
    assert.deepEqual([waiting.createdJob, waiting.wakeAt], [false, T0 + 2 * MIN]);
    assert.equal((await a.jobs()).length, 1);
    await terminateJob(a.ctx(90_000), 's:job-1', {});
    await a.run(90_000);
    assert.deepEqual(
      (await a.jobs()).map((j) => j.slice(0, 2)),
      [
        ['s:job-1', 'completed'],
        ['s:job-2', 'active'],
      ],
    );
    assert.equal((await a.jobs())[1]![2], at(90_000));
    assert.equal((await a.schedule('s')).executionInfo.nextRunTime, at(2 * MIN));
    assert.deepEqual((await a.schedule('s')).executionInfo.recentJob, { id: 's:job-2' });
  });

  it('skips a run not started within its startWindow', async () => {
    const a = account('window');
    await addJobSchedule(a.ctx(0), { id: 's', schedule: { recurrenceInterval: 'PT5M', startWindow: 'PT1M' }, jobSpecification: { poolInfo: { poolId: 'p' } } });
    await a.run(5 * MIN); // due; job-1 still active
    assert.equal((await a.schedule('s')).executionInfo.nextRunTime, at(5 * MIN));
    const skipped = (await a.run(6 * MIN)).runs[0]!; // the window has closed: that opportunity is lost
    assert.equal((await a.schedule('s')).executionInfo.nextRunTime, at(10 * MIN));
    assert.equal(skipped.wakeAt, T0 + 10 * MIN);
    await terminateJob(a.ctx(6.5 * MIN), 's:job-1', {});
    await a.run(6.5 * MIN);
    assert.equal((await a.jobs()).length, 1, 'no job between runs');
    await a.run(10 * MIN + 1000);
    assert.deepEqual(
      (await a.jobs()).map((j) => j.slice(0, 2)),
      [
        ['s:job-1', 'completed'],
        ['s:job-2', 'active'],
      ],
    );
  });

  it('after a long downtime makes the latest run whose window is open, once', async () => {
    const a = account('downtime');
    await addJobSchedule(a.ctx(0), {
      id: 's',
      schedule: { recurrenceInterval: 'PT1M', startWindow: 'PT1M' },
      jobSpecification: { poolInfo: { poolId: 'p' }, onAllTasksComplete: 'terminatejob' },
    });
    assert.deepEqual(
      (await a.jobs()).map((j) => j.slice(0, 2)),
      [['s:job-1', 'completed']],
    );
    await a.run(365 * 24 * 60 * MIN + 10_000); // a year and ten seconds later
    assert.deepEqual(
      (await a.jobs()).map((j) => j[0]),
      ['s:job-1', 's:job-2'],
    );
    assert.equal((await a.schedule('s')).executionInfo.nextRunTime, at(365 * 24 * 60 * MIN + MIN));
  });

  it('completes at doNotRunAfter; a missed one-off run completes the schedule too', async () => {
    const a = account('ends');
    await addJobSchedule(a.ctx(0), {
      id: 'r',
      schedule: { recurrenceInterval: 'PT1M', doNotRunAfter: at(2.5 * MIN) },
      jobSpecification: { poolInfo: { poolId: 'p' }, onAllTasksComplete: 'terminatejob' },
    });
    await a.run(MIN);
    const last = (await a.run(2 * MIN)).runs[0]!;
    assert.deepEqual(
      (await a.jobs()).map((j) => j[0]),
      ['r:job-1', 'r:job-2', 'r:job-3'],
    );
    assert.equal((await a.schedule('r')).executionInfo.nextRunTime, undefined);
    assert.equal(last.wakeAt, T0 + 2.5 * MIN + 1);
    assert.equal((await a.schedule('r')).state, 'active');
    await a.run(2.5 * MIN + 1);
    const done = await a.schedule('r');
    assert.deepEqual([done.state, done.previousState, done.executionInfo.endTime], ['completed', 'terminating', at(2.5 * MIN + 1)]);

    await addJobSchedule(a.ctx(0), { id: 'once', schedule: { doNotRunUntil: at(MIN), startWindow: 'PT1M' }, jobSpecification: { poolInfo: { poolId: 'p' } } });
    await disableJobSchedule(a.ctx(MIN / 2), 'once');
    await a.run(1.5 * MIN);
    assert.equal((await a.schedule('once')).state, 'disabled');
    await a.run(2 * MIN); // its window closed while disabled: no run is left
    assert.equal((await a.schedule('once')).state, 'completed');
    await assert.rejects(async () => await enableJobSchedule(a.ctx(3 * MIN), 'once'), { code: 'JobScheduleCompleted' });
    assert.deepEqual(
      (await a.jobs()).filter((j) => String(j[0]).startsWith('once')),
      [],
    );
  });

  it('arms one timer for the earliest run of any schedule', async () => {
    const a = account('timer');
    let now = T0;
    const timer = jobScheduleTimer({ store, accounts: () => ['timer'], hooks: {}, log: () => undefined, clock: () => new Date(now) });
    try {
      await addJobSchedule(a.ctx(0), { id: 'late', schedule: { doNotRunUntil: at(60 * MIN) }, jobSpecification: { poolInfo: { poolId: 'p' } } });
      await addJobSchedule(a.ctx(0), { id: 'soon', schedule: { doNotRunUntil: at(10 * MIN) }, jobSpecification: { poolInfo: { poolId: 'p' } } });
      assert.equal(await timer.runNow(), T0 + 10 * MIN);
      now = T0 + 10 * MIN;
      assert.equal(await timer.runNow(), T0 + 60 * MIN);
      assert.deepEqual(
        (await a.jobs()).map((j) => j[0]),
        ['soon:job-1'],
      );
    } finally {
      await timer.close();
    }
  });
});
