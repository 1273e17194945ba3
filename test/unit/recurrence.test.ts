import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstRunTime, planRuns, runAfter, sameSchedule, windowCloses, type Schedule } from '../../src/domain/batch/jobSchedules/recurrence.js';
import { iso, MIN, T0 } from './helpers.js';

/** The schedule's runs as the pure planner sees them (times in ms since T0). */
const plan = (schedule: Schedule, nextRunTime: number | undefined, now: number, hasActiveJob = false, state: 'active' | 'disabled' = 'active') => {
  const p = planRuns({ state, schedule, nextRunTime: nextRunTime === undefined ? undefined : T0 + nextRunTime, hasActiveJob, now: T0 + now });
  const rel = (t: number | undefined) => (t === undefined ? undefined : t - T0);
  return { createJob: p.createJob, next: rel(p.nextRunTime), complete: p.complete, wakeAt: rel(p.wakeAt) };
};

describe('job schedule recurrence (pure time arithmetic)', () => {
  it('the first run: at once, or at doNotRunUntil; none when doNotRunAfter has passed', () => {
    assert.equal(firstRunTime({}, T0), T0);
    assert.equal(firstRunTime({ doNotRunUntil: iso(5 * MIN) }, T0), T0 + 5 * MIN);
    assert.equal(firstRunTime({ doNotRunUntil: iso(-5 * MIN) }, T0), T0, 'a past doNotRunUntil runs now');
    assert.equal(firstRunTime({ doNotRunAfter: iso(-1) }, T0), undefined);
    assert.equal(firstRunTime({ doNotRunAfter: iso(0) }, T0), T0, 'doNotRunAfter itself is still allowed');
  });

  it('runs follow a fixed grid, up to doNotRunAfter', () => {
    const s: Schedule = { recurrenceInterval: 'PT10M', doNotRunAfter: iso(25 * MIN) };
    assert.equal(runAfter(s, T0), T0 + 10 * MIN);
    assert.equal(runAfter(s, T0 + 20 * MIN), undefined);
    assert.equal(runAfter({}, T0), undefined, 'no recurrence: one run');
    assert.equal(runAfter({ recurrenceInterval: 'PT0S' }, T0), undefined, 'a zero interval recurs never');
  });

  it('a run may start within its window, before the next one is due, and not after doNotRunAfter', () => {
    assert.equal(windowCloses({}, T0), Infinity);
    assert.equal(windowCloses({ startWindow: 'PT2M' }, T0), T0 + 2 * MIN);
    assert.equal(windowCloses({ startWindow: 'PT20M', recurrenceInterval: 'PT5M' }, T0), T0 + 5 * MIN);
    assert.equal(windowCloses({ doNotRunAfter: iso(MIN) }, T0), T0 + MIN + 1);
  });

  it('sameSchedule compares meanings, not spellings', () => {
    assert.equal(sameSchedule({ recurrenceInterval: 'PT60M' }, { recurrenceInterval: 'PT1H' }), true);
    assert.equal(sameSchedule({ doNotRunUntil: '2030-01-01T00:00:00Z' }, { doNotRunUntil: '2030-01-01T01:00:00+01:00' }), true);
    assert.equal(sameSchedule({ recurrenceInterval: 'PT1H' }, { recurrenceInterval: 'PT1H', startWindow: 'PT1M' }), false);
    assert.equal(sameSchedule({ doNotRunAfter: iso(0) }, {}), false);
  });

  it('plans a due run, then waits for the next', () => {
    const s: Schedule = { recurrenceInterval: 'PT1M' };
    assert.deepEqual(plan(s, MIN, 30_000), { createJob: false, next: MIN, complete: false, wakeAt: MIN });
    assert.deepEqual(plan(s, MIN, MIN), { createJob: true, next: 2 * MIN, complete: false, wakeAt: 2 * MIN });
  });

  it('a due run waits while a job is active, or the schedule is disabled, until its window closes', () => {
    const s: Schedule = { recurrenceInterval: 'PT10M', startWindow: 'PT2M' };
    assert.deepEqual(plan(s, 0, MIN, true), { createJob: false, next: 0, complete: false, wakeAt: 2 * MIN });
    assert.deepEqual(plan(s, 0, MIN, false, 'disabled'), { createJob: false, next: 0, complete: false, wakeAt: 2 * MIN });
    // The window closed: that run is skipped, the next one on the grid is waited for.
    assert.deepEqual(plan(s, 0, 2 * MIN, true), { createJob: false, next: 10 * MIN, complete: false, wakeAt: 10 * MIN });
    // No window and no recurrence: the one run waits for ever (no wake-up; only an event changes it).
    assert.deepEqual(plan({}, 0, 60 * MIN, true), { createJob: false, next: 0, complete: false, wakeAt: undefined });
  });

  it('after a long downtime makes the latest run whose window is open, once', () => {
    const s: Schedule = { recurrenceInterval: 'PT1M', startWindow: 'PT30S' };
    const year = 365 * 24 * 60 * MIN;
    assert.deepEqual(plan(s, MIN, year + 10_000), { createJob: true, next: year + MIN, complete: false, wakeAt: year + MIN });
    // 40 s past the grid point, that run's window has closed too: nothing now, the next one later.
    assert.deepEqual(plan(s, MIN, year + 40_000), { createJob: false, next: year + MIN, complete: false, wakeAt: year + MIN });
  });

  it('completes: a one-off run once made and over; a recurring one after doNotRunAfter, with no job active', () => {
    assert.deepEqual(plan({}, 0, 0), { createJob: true, next: undefined, complete: false, wakeAt: undefined });
    assert.deepEqual(plan({}, undefined, MIN, true), { createJob: false, next: undefined, complete: false, wakeAt: undefined });
    assert.deepEqual(plan({}, undefined, MIN, false), { createJob: false, next: undefined, complete: true, wakeAt: undefined });
    const s: Schedule = { recurrenceInterval: 'PT1M', doNotRunAfter: iso(90_000) };
    // The last run (at 1 min) is made; the schedule ends just after doNotRunAfter.
    assert.deepEqual(plan(s, MIN, MIN), { createJob: true, next: undefined, complete: false, wakeAt: 90_001 });
    assert.deepEqual(plan(s, undefined, 90_001), { createJob: false, next: undefined, complete: true, wakeAt: undefined });
    assert.deepEqual(plan(s, undefined, 90_001, true), { createJob: false, next: undefined, complete: false, wakeAt: undefined });
  });
});
