import { UnitsOfWork, type Work } from '../unitsOfWork.js';
import { ADVISORY_LOCK_SPACE, AdvisoryLock } from './advisoryLocks.js';
import type { Connection, PostgresDatabase, Queryable } from './database.js';

interface PostgresWork extends Work {
  connection: Connection;
}

/**
 * The Batch store's units of work on PostgreSQL: each is one transaction on one pooled connection,
 * bound to the asynchronous context, so that every store call made while it runs, however deep, goes
 * to that connection; calls outside any run on the pool, one statement each.
 *
 * Why one at a time, under a lock, rather than SERIALIZABLE and retries as the Blob store does: a
 * Batch unit of work also changes memory as it goes (node sessions, queued commands, timers), so it
 * can never be run a second time after a serialization failure. So every unit of work first takes one
 * transaction-level advisory lock, pg_advisory_xact_lock (released by COMMIT or ROLLBACK, even when
 * the connection dies), and runs at READ COMMITTED: with every writer holding the lock, it reads only
 * what units of work committed before it began, and writes what nothing else changes meanwhile. That
 * is SQLite's single writer (BEGIN IMMEDIATE) across every server sharing the database. Within this
 * process the units of work also queue before taking a connection, so those waiting hold none and
 * reads outside them still find the pool free. Finer locks (per job, per pool), once the domain's
 * units of work say which entities they touch, are the next step (issue 10 item 3).
 */
export class PostgresUnitOfWork {
  private readonly units = new UnitsOfWork<PostgresWork>();

  constructor(private readonly db: PostgresDatabase) {}

  /** Where a store call runs: the unit of work's connection when made inside one, else the pool. */
  on(): Queryable {
    return this.units.current()?.connection ?? this.db;
  }

  /** Whether the caller is inside a unit of work. */
  inside(): boolean {
    return this.units.current() !== undefined;
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.units.current()) return fn();
    return this.units.queue(() => this.run(fn));
  }

  afterCommit(fn: () => void): void {
    this.units.afterCommit(fn);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    const connection = await this.db.connect();
    const work: PostgresWork = { connection, afterCommit: [], open: true };
    let broken: Error | undefined;
    let result: T;
    try {
      await connection.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      await connection.query('SELECT pg_advisory_xact_lock($1, $2)', [ADVISORY_LOCK_SPACE, AdvisoryLock.batchWrites]);
      result = await this.units.within(work, fn);
      await connection.query('COMMIT');
    } catch (err) {
      await connection.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      work.open = false;
      // A connection whose ROLLBACK failed is in an unknown state: closed, not reused.
      connection.release(broken);
    }
    // Outside the context: what a hook starts is not part of the unit of work that just ended.
    this.units.committed(work);
    return result;
  }
}
