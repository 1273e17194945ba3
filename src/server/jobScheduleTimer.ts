import type { BatchHooks } from '../domain/batch/context.js';
import { runJobSchedules } from '../domain/batch/jobSchedules/runSchedules.js';
import type { BatchStore } from '../persistence/batch/store.js';

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

/** setTimeout's longest delay (about 24.8 days); a later wake simply re-arms. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** A schedule whose run failed (logged) tries again this much later, within its start window. */
const RETRY_MS = 60_000;

/**
 * Makes the jobs of job schedules when their runs fall due. One timer for the server, armed for the
 * earliest moment any schedule has something to do (a run due, a start window closing, a
 * doNotRunAfter passing), not polling; `kick` runs every schedule soon and re-arms, and is called
 * when schedules change (any Batch API change) and when a job ends (a waiting run may start, a
 * schedule may complete). At start, one run makes what fell due while the server was down, if its
 * start window is still open (the next run time is stored with the schedule).
 */
export class JobScheduleTimer {
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Immediate | undefined;
  private closed = false;
  /** When the timer will fire (ms since the epoch), if armed: what tests look at. */
  armedFor: number | undefined;

  constructor(private readonly opts: JobScheduleTimerOptions) {}

  private now(): Date {
    return this.opts.clock?.() ?? new Date();
  }

  /** Runs the schedules soon (once for any number of kicks in one turn of the event loop). */
  kick(): void {
    if (this.closed || this.pending) return;
    this.pending = setImmediate(() => {
      this.pending = undefined;
      this.runNow();
    });
  }

  /** Runs every account's schedules at the clock's time, then arms the timer for the earliest wake. */
  runNow(): number | undefined {
    if (this.closed) return undefined;
    const now = this.now();
    let wake = Infinity;
    for (const account of this.opts.accounts()) {
      const ctx = { store: this.opts.store, account, now, hooks: this.opts.hooks };
      let created = false;
      try {
        const { runs, failures } = runJobSchedules(ctx);
        for (const run of runs) {
          created ||= run.createdJob;
          if (run.wakeAt !== undefined) wake = Math.min(wake, run.wakeAt);
        }
        for (const { scheduleId, error } of failures) {
          this.opts.log(`job schedule ${scheduleId} of ${account}: its run failed, trying again in a minute: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          wake = Math.min(wake, now.getTime() + RETRY_MS);
        }
      } catch (error) {
        this.opts.log(`job schedules of ${account}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        wake = Math.min(wake, now.getTime() + RETRY_MS);
      }
      // A new job's job manager task waits for the scheduler; its auto pool for the local nodes.
      if (created) this.opts.hooks.changed?.(account);
    }
    this.arm(Number.isFinite(wake) ? wake : undefined, now.getTime());
    return this.armedFor;
  }

  private arm(at: number | undefined, now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = at;
    if (at === undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runNow();
    }, Math.min(Math.max(0, at - now), MAX_DELAY_MS));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending) clearImmediate(this.pending);
    this.timer = this.pending = undefined;
    this.armedFor = undefined;
  }
}
