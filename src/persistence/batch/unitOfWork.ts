import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db } from '../sqlite/database.js';

interface Work {
  afterCommit: (() => void)[];
  /** Until it commits or rolls back: callbacks it scheduled (timers, a deferred pass) inherit its context, but not it. */
  open: boolean;
}

/**
 * Units of work over one synchronous SQLite connection, for an asynchronous store port. SQLite
 * statements run at once, but a unit of work spans awaits, during which other requests run: they must
 * neither see its uncommitted writes (they share the connection) nor write into it. So one unit of work
 * holds the connection at a time; calls from outside it wait until it ends, and calls made inside it
 * (found through the asynchronous context) run at once.
 */
export class UnitOfWork {
  private readonly context = new AsyncLocalStorage<Work>();
  /** Resolves when the unit of work holding the connection, and those queued before, have ended. */
  private tail: Promise<unknown> = Promise.resolve();
  private held = false;

  constructor(private readonly db: Db) {}

  /** One store call: now, when no unit of work holds the connection or when called inside it. */
  call<T>(op: () => T): Promise<T> {
    if (!this.held || this.current()) {
      try {
        return Promise.resolve(op());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return this.queue(async () => op());
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.current()) return fn();
    return this.queue(async () => {
      const work: Work = { afterCommit: [], open: true };
      this.held = true;
      this.db.exec('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await this.context.run(work, fn);
        this.db.exec('COMMIT');
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        work.open = false;
        this.held = false;
      }
      for (const hook of work.afterCommit) runHook(hook);
      return result;
    });
  }

  afterCommit(fn: () => void): void {
    const work = this.current();
    if (work) work.afterCommit.push(fn);
    else queueMicrotask(() => runHook(fn));
  }

  /** The unit of work this call is part of, if any. */
  private current(): Work | undefined {
    const work = this.context.getStore();
    return work?.open ? work : undefined;
  }

  /** Runs `job` once every job queued before it has ended, each alone on the connection. */
  private queue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(job);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

function runHook(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error(`after-commit hook failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
