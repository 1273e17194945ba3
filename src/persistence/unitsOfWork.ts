import { AsyncLocalStorage } from 'node:async_hooks';

/** What a store keeps of one unit of work while it runs. */
export interface Work {
  afterCommit: (() => void)[];
  /**
   * Until it commits or rolls back. Callbacks it scheduled (timers, a deferred scheduler pass) inherit
   * its asynchronous context; once it has ended they must not be taken as part of it.
   */
  open: boolean;
}

/**
 * What the stores' units of work share (persistence/batch/unitOfWork.ts on SQLite,
 * persistence/postgres/batchUnitOfWork.ts): the unit of work a call belongs to, found through the
 * asynchronous context; units of work queued to run one at a time in this process; and the work each
 * hands to `afterCommit`, run once it has committed, outside its context.
 */
export class UnitsOfWork<W extends Work> {
  private readonly context = new AsyncLocalStorage<W>();
  /** Resolves when the unit of work in progress here, and those queued before it, have ended. */
  private tail: Promise<unknown> = Promise.resolve();

  /** The unit of work this call is part of, if any. */
  current(): W | undefined {
    const work = this.context.getStore();
    return work?.open ? work : undefined;
  }

  /** Runs `body` as `work`: every call it makes, however deep, is part of it. */
  within<T>(work: W, body: () => Promise<T>): Promise<T> {
    return this.context.run(work, body);
  }

  /** Runs `job` once every job queued before it has ended. */
  queue<T>(job: () => Promise<T>): Promise<T> {
    const run = this.tail.then(job);
    this.tail = run.catch(() => undefined);
    return run;
  }

  afterCommit(fn: () => void): void {
    const work = this.current();
    if (work) work.afterCommit.push(fn);
    else queueMicrotask(() => runHook(fn));
  }

  /** The committed unit of work's after-commit work, each on its own: one that throws is logged, the rest run. */
  committed(work: W): void {
    for (const hook of work.afterCommit) runHook(hook);
  }
}

function runHook(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error(`after-commit hook failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}
