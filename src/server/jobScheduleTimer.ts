import type { BatchHooks } from '../domain/batch/context.js';
import { runJobSchedules } from '../domain/batch/jobSchedules/runSchedules.js';
import type { BatchStore } from '../domain/batch/store.js';
import { DeadlineTimer, RETRY_MS, describeError, everyAccount } from './deadlineTimer.js';

export interface JobScheduleTimerOptions {
  store: BatchStore;
  /** The accounts whose schedules run. */
  accounts: () => string[];
  /** What a made job is reported to (the task scheduler, the local nodes), and what the domain's own changes reach. */
  hooks: BatchHooks;
  log: (message: string) => void;
  /** The time: injectable, so that a test can run schedules at the times it chooses. */
  clock?: () => Date;
}

/**
 * Makes the jobs of job schedules when their runs fall due. One timer for the server, armed for the
 * earliest moment any schedule has something to do (a run due, a start window closing, a
 * doNotRunAfter passing), not polling; it is kicked when schedules change (any Batch API change)
 * and when a job ends (a waiting run may start, a schedule may complete). At start, one run makes
 * what fell due while the server was down, if its start window is still open (the next run time is
 * stored with the schedule). A schedule whose run failed tries again RETRY_MS later, within its window.
 */
export function jobScheduleTimer(opts: JobScheduleTimerOptions): DeadlineTimer {
  const pass = async (account: string, now: Date): Promise<number | undefined> => {
    const { runs, failures } = await runJobSchedules({ store: opts.store, account, now, hooks: opts.hooks });
    let wake = Infinity;
    for (const run of runs) if (run.wakeAt !== undefined) wake = Math.min(wake, run.wakeAt);
    for (const { scheduleId, error } of failures) {
      opts.log(`job schedule ${scheduleId} of ${account}: its run failed, trying again in a minute: ${describeError(error)}`);
      wake = Math.min(wake, now.getTime() + RETRY_MS);
    }
    // A new job's job manager task waits for the scheduler; its auto pool for the local nodes.
    if (runs.some((run) => run.createdJob)) opts.hooks.changed?.(account);
    return Number.isFinite(wake) ? wake : undefined;
  };
  return new DeadlineTimer(everyAccount(opts.accounts, opts.log, 'job schedules', pass), opts.clock);
}
