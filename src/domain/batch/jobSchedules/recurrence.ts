import { parseDuration } from '../duration.js';
import type { CloudJobSchedule, JobScheduleState } from '../models.js';

/**
 * When a job schedule makes its jobs: pure time arithmetic over its `schedule` (Azure's Schedule
 * model: docs/compatibility.md, job schedules):
 *
 * - the first run is due at doNotRunUntil, or at once without it;
 * - with a recurrenceInterval R, runs are due every R after the first (a fixed grid: a run that was
 *   late or skipped does not move the ones after it);
 * - a run must start within startWindow W of its due time, and before the next run is due ("the job
 *   that is due in one recurrenceInterval is not carried forward into the next"), and never after
 *   doNotRunAfter; a run not started by then is skipped, its "opportunity" lost;
 * - a schedule has at most one active job: a run that comes due while the previous job is active
 *   waits for it, within its window;
 * - without a recurrence there is one run, and the schedule completes once it is over; a recurring
 *   one completes once doNotRunAfter has passed and no job of it is active.
 */
export type Schedule = CloudJobSchedule['schedule'];

const ms = (text: string | undefined): number | undefined => (text === undefined ? undefined : parseDuration(text));
const time = (text: string | undefined): number | undefined => (text === undefined ? undefined : Date.parse(text));

/** Whether two schedules mean the same runs (a PUT that repeats the schedule does not restart it). */
export function sameSchedule(a: Schedule, b: Schedule): boolean {
  return (
    time(a.doNotRunUntil) === time(b.doNotRunUntil) &&
    time(a.doNotRunAfter) === time(b.doNotRunAfter) &&
    ms(a.startWindow) === ms(b.startWindow) &&
    ms(a.recurrenceInterval) === ms(b.recurrenceInterval)
  );
}

/** The first run of a schedule set at `now` (a new one, or a new schedule given by update). */
export function firstRunTime(schedule: Schedule, now: number): number | undefined {
  const due = Math.max(time(schedule.doNotRunUntil) ?? now, now);
  return startsBefore(schedule, due) ? due : undefined;
}

/** The run after the one due at `due`; undefined when there is none (no recurrence, or past doNotRunAfter). */
export function runAfter(schedule: Schedule, due: number): number | undefined {
  const interval = ms(schedule.recurrenceInterval);
  if (interval === undefined || interval <= 0) return undefined;
  const next = due + interval;
  return startsBefore(schedule, next) ? next : undefined;
}

/**
 * After a missed run due at `due`: the latest run due by `now` on the same grid, in one step (a server
 * that was down for a year does not walk half a million one-minute runs); the loop checks its window.
 */
function lastDueBy(schedule: Schedule, due: number, now: number): number | undefined {
  const interval = ms(schedule.recurrenceInterval);
  if (interval === undefined || interval <= 0) return undefined;
  const next = due + Math.max(1, Math.floor((now - due) / interval)) * interval;
  return startsBefore(schedule, next) ? next : undefined;
}

/** Whether a run due at `due` could start at all: not after doNotRunAfter. */
const startsBefore = (schedule: Schedule, due: number): boolean => {
  const last = time(schedule.doNotRunAfter);
  return last === undefined || due <= last;
};

/** The first instant at which the run due at `due` may no longer start (Infinity: it may wait forever). */
export function windowCloses(schedule: Schedule, due: number): number {
  const window = ms(schedule.startWindow);
  const interval = ms(schedule.recurrenceInterval);
  const last = time(schedule.doNotRunAfter);
  return Math.min(window === undefined ? Infinity : due + window, interval === undefined || interval <= 0 ? Infinity : due + interval, last === undefined ? Infinity : last + 1);
}

/** What a schedule does at `now`, given its stored next run and whether a job of it is active. */
export interface RunPlan {
  /** A job is to be made now. */
  createJob: boolean;
  /** The next run after this step (the run made now excluded); undefined: none is left. */
  nextRunTime: number | undefined;
  /** No run is left and no job is active: the schedule completes. */
  complete: boolean;
  /** When the plan must be made again without any other event; undefined: only an event changes it. */
  wakeAt: number | undefined;
}

/** The plan of an active or disabled schedule (terminating and deleting ones make no runs). */
export function planRuns(input: { state: JobScheduleState; schedule: Schedule; nextRunTime: number | undefined; hasActiveJob: boolean; now: number }): RunPlan {
  const { state, schedule, hasActiveJob, now } = input;
  let due = input.nextRunTime;
  let createJob = false;
  while (due !== undefined) {
    if (now >= windowCloses(schedule, due)) {
      due = lastDueBy(schedule, due, now); // missed: skipped
      continue;
    }
    if (now < due || state !== 'active' || hasActiveJob || createJob) break;
    createJob = true;
    due = runAfter(schedule, due);
  }
  if (due !== undefined) {
    const closes = windowCloses(schedule, due);
    return { createJob, nextRunTime: due, complete: false, wakeAt: now < due ? due : Number.isFinite(closes) ? closes : undefined };
  }
  // No run is left. A recurring schedule with a doNotRunAfter completes once that has passed; one
  // without a recurrence once its one run is over (made and finished, or skipped).
  const last = time(schedule.doNotRunAfter);
  const recurring = ms(schedule.recurrenceInterval) !== undefined;
  const endsAt = recurring && last !== undefined && now <= last ? last + 1 : undefined;
  const complete = !hasActiveJob && !createJob && endsAt === undefined;
  return { createJob, nextRunTime: undefined, complete, wakeAt: complete ? undefined : endsAt };
}
