/** setTimeout's longest delay (about 24.8 days); a later wake simply re-arms. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/**
 * One timer for work that falls due at stored deadlines: `run` does what is due at the clock's time
 * and says when to come back (the earliest deadline left), and the timer is armed for that moment,
 * not polling. `kick` runs it soon (once for any number of kicks in one turn of the event loop):
 * called when a deadline may have moved, and at start, for what fell due while the server was down.
 */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Immediate | undefined;
  private closed = false;
  /** The pass in progress: passes never overlap; a kick meanwhile runs another once it ends. */
  private running: Promise<number | undefined> | undefined;
  private again = false;
  /** When the timer will fire (ms since the epoch), if armed: what tests look at. */
  armedFor: number | undefined;

  constructor(
    private readonly run: (now: Date) => Promise<number | undefined>,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  kick(): void {
    if (this.closed || this.pending) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.pending = setImmediate(() => {
      this.pending = undefined;
      void this.runNow();
    });
  }

  /** Runs what is due now, then arms the timer for the next wake; resolves to when that is. */
  async runNow(): Promise<number | undefined> {
    if (this.closed) return undefined;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.pass();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    }
  }

  private async pass(): Promise<number | undefined> {
    const now = this.clock();
    const at = await this.run(now);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = at;
    if (at === undefined || this.closed) return undefined;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.runNow();
      },
      Math.min(Math.max(0, at - now.getTime()), MAX_DELAY_MS),
    );
    this.timer.unref();
    return at;
  }

  /** Disarms the timer; resolves once the pass in progress, if any, has ended (before the store closes). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending) clearImmediate(this.pending);
    this.timer = this.pending = undefined;
    this.armedFor = undefined;
    await this.running?.catch(() => undefined);
  }
}

/** A pass that failed tries again this much later. */
export const RETRY_MS = 60_000;

/**
 * The `run` of a DeadlineTimer over every account: each account's pass says when it wants to run
 * again; one that throws is logged (`what` names the work) and tried again RETRY_MS later, without
 * holding up the other accounts.
 */
export function everyAccount(
  accounts: () => string[],
  log: (message: string) => void,
  what: string,
  pass: (account: string, now: Date) => Promise<number | undefined>,
): (now: Date) => Promise<number | undefined> {
  return async (now) => {
    let wake = Infinity;
    for (const account of accounts()) {
      try {
        wake = Math.min(wake, (await pass(account, now)) ?? Infinity);
      } catch (err) {
        log(`${what} of ${account}: ${describeError(err)}`);
        wake = Math.min(wake, now.getTime() + RETRY_MS);
      }
    }
    return Number.isFinite(wake) ? wake : undefined;
  };
}

export const describeError = (err: unknown): string => (err instanceof Error ? (err.stack ?? err.message) : String(err));
