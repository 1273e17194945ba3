import type { BatchHooks } from '../domain/batch/context.js';
import { timeOutResizes } from '../domain/batch/pools/timeOutResizes.js';
import type { BatchStore } from '../domain/batch/store.js';
import { DeadlineTimer, everyAccount } from './deadlineTimer.js';

export interface AllocationTimerOptions {
  store: BatchStore;
  accounts: () => string[];
  /** What a stopped resize is reported to: the local nodes stop the agents of dropped nodes. */
  hooks: BatchHooks;
  log: (message: string) => void;
  /** The time: injectable, so that a test can pass a resize's timeout without waiting for it. */
  clock?: () => Date;
}

/**
 * Enforces resizeTimeout (pools/timeOutResizes.ts): wakes at the earliest deadline of any pool's
 * resize, stored on the pool (so it holds across a restart), and is kicked on every Batch change
 * (a resize, a removal or a new pool may start a clock) and at start.
 */
export function allocationTimer(opts: AllocationTimerOptions): DeadlineTimer {
  const pass = async (account: string, now: Date): Promise<number | undefined> => {
    const { timedOut, wakeAt } = await timeOutResizes({ store: opts.store, account, now, hooks: opts.hooks });
    for (const poolId of timedOut) opts.log(`pool ${poolId} of ${account}: its resize timed out before reaching its target node counts`);
    if (timedOut.length > 0) opts.hooks.changed?.(account);
    return wakeAt;
  };
  return new DeadlineTimer(everyAccount(opts.accounts, opts.log, 'resize timeouts', pass), opts.clock);
}
