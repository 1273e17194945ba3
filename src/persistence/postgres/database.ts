import pg from 'pg';
import type { Migration } from '../sqlite/database.js';
import { migrate } from './migrate.js';

/** What a query runs on: the pool (one statement, autocommit) or a transaction's connection. */
export interface Queryable {
  /** The rows of one statement, `$1`, `$2`… bound to `params`. */
  query<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** The number of rows one INSERT, UPDATE or DELETE touched (how a compare-and-set tells it won). */
  execute(sql: string, params?: readonly unknown[]): Promise<number>;
}

/** A connection taken from the pool, given back by `release` (closed instead when given the error that broke it). */
export interface Connection extends Queryable {
  release(broken?: Error): void;
}

export interface PostgresDatabase extends Queryable {
  /**
   * Runs `fn` in one SERIALIZABLE transaction and commits it; rolls back when `fn` throws. A
   * serialization failure or a deadlock, which PostgreSQL raises when concurrent transactions could
   * not be ordered, rolls back and runs `fn` again, up to TRANSACTION_ATTEMPTS times: so `fn` must do
   * nothing but database work until it returns (no answers sent, no events fired).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** One pooled connection for the caller alone (a transaction of its own kind), until it releases it; `release(err)` closes it instead of reusing it. */
  connect(): Promise<Connection>;
  /** Ends every connection. */
  close(): Promise<void>;
}

/**
 * Attempts of one transaction, first included. SERIALIZABLE makes every transaction behave as if
 * run alone, as SQLite's single writer does, so the domain's read-check-write units of work stay
 * correct unchanged; the price is a retry when two overlap on the same rows, rare outside a hot row.
 */
export const TRANSACTION_ATTEMPTS = 10;
/** SQLSTATEs after which the whole transaction may simply be run again (PostgreSQL's docs, "Serialization Failure Handling"). */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Connects to Kiln's PostgreSQL database (`postgres://user:password@host:port/database`, libpq's URL
 * form, `?sslmode=` included) and applies `migrations` it lacks (migrate.ts): two servers starting at
 * once on one database take turns.
 */
export async function openPostgres(url: string, migrations: Migration[], opts: { maxConnections?: number } = {}): Promise<PostgresDatabase> {
  const pool = new pg.Pool({ connectionString: url, max: opts.maxConnections ?? 10, application_name: 'kiln', types: { getTypeParser } });
  // A connection that breaks while idle (a server restart) is dropped from the pool, which opens a new
  // one when next needed; without a listener the error would end the process.
  pool.on('error', () => undefined);
  const db = new Database(pool);
  try {
    const client = await pool.connect();
    try {
      await migrate(client, migrations);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  return db;
}

class Database implements PostgresDatabase {
  constructor(private readonly pool: pg.Pool) {}

  query<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return rowsOf<R>(this.pool, sql, params);
  }

  execute(sql: string, params?: readonly unknown[]): Promise<number> {
    return countOf(this.pool, sql, params);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const tx: Queryable = { query: (sql, params) => rowsOf(client, sql, params), execute: (sql, params) => countOf(client, sql, params) };
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
          const result = await fn(tx);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
          if (broken || attempt >= TRANSACTION_ATTEMPTS || !RETRYABLE.has((err as { code?: string }).code ?? '')) throw err;
          // Jittered, growing pauses: two transactions that collided should not collide again at once.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
        }
      }
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: closed, not reused.
      client.release(broken);
    }
  }

  async connect(): Promise<Connection> {
    const client = await this.pool.connect();
    return { query: (sql, params) => rowsOf(client, sql, params), execute: (sql, params) => countOf(client, sql, params), release: (broken) => client.release(broken) };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

async function rowsOf<R extends object>(on: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<R[]> {
  return (await on.query<R & pg.QueryResultRow>(sql, params as unknown[] | undefined)).rows;
}

async function countOf(on: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[]): Promise<number> {
  return (await on.query(sql, params as unknown[] | undefined)).rowCount ?? 0;
}

const INT8_OID = 20;

/**
 * BIGINT columns (row ids, sizes, millisecond times) and count(*) come back as numbers, as SQLite's
 * integers do, rather than node-postgres's default strings; none of Kiln's reaches 2^53.
 */
function getTypeParser(oid: number, format?: 'text' | 'binary') {
  if (oid === INT8_OID && format !== 'binary') {
    return (text: string) => {
      const n = Number(text);
      if (!Number.isSafeInteger(n)) throw new Error(`a BIGINT beyond JavaScript's safe integers: ${text}`);
      return n;
    };
  }
  return pg.types.getTypeParser(oid, format);
}
