import type { Db } from '../sqlite/database.js';
import { UnitsOfWork, type Work } from '../unitsOfWork.js';

/**
 * Units of work over one synchronous SQLite connection, for an asynchronous store port. SQLite
 * statements run at once, but a unit of work spans awaits, during which other requests run: they must
 * neither see its uncommitted writes (they share the connection) nor write into it. So one unit of work
 * holds the connection at a time; calls from outside it wait until it ends, and calls made inside it
 * (found through the asynchronous context) run at once.
 */
export class UnitOfWork {
  private readonly units = new UnitsOfWork<Work>();
  private held = false;

  constructor(private readonly db: Db) {}

  /** One store call: now, when no unit of work holds the connection or when called inside it. */
  call<T>(op: () => T): Promise<T> {
    if (!this.held || this.units.current()) {
      try {
        return Promise.resolve(op());
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return this.units.queue(async () => op());
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.units.current()) return fn();
    return this.units.queue(async () => {
      const work: Work = { afterCommit: [], open: true };
      this.held = true;
      this.db.exec('BEGIN IMMEDIATE');
      let result: T;
      try {
        result = await this.units.within(work, fn);
        this.db.exec('COMMIT');
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      } finally {
        work.open = false;
        this.held = false;
      }
      this.units.committed(work);
      return result;
    });
  }

  afterCommit(fn: () => void): void {
    this.units.afterCommit(fn);
  }
}
