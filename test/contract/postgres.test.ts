// Kiln's PostgreSQL connection, migration runner and schema, against a real throwaway server
// (test/helpers/postgres.ts), and that server's own lifetime.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { migrations as sqliteMigrations } from '../../src/persistence/migrations.js';
import { ADVISORY_LOCK_SPACE, AdvisoryLock } from '../../src/persistence/postgres/advisoryLocks.js';
import { openPostgres, TRANSACTION_ATTEMPTS, type PostgresDatabase } from '../../src/persistence/postgres/database.js';
import { postgresMigrations } from '../../src/persistence/postgres/schema.js';
import { ROOT, waitFor } from '../helpers/kiln.js';
import { freshDatabase, serverProcesses, startPostgres, type PostgresServer } from '../helpers/postgres.js';

let server: PostgresServer;
const opened: PostgresDatabase[] = [];

/** A migrated Kiln database of its own, closed after the suite. */
async function open(url?: string): Promise<PostgresDatabase> {
  const db = await openPostgres(url ?? (await freshDatabase(server.url)), postgresMigrations);
  opened.push(db);
  return db;
}

/** Resolves for everyone once `parties` have arrived: two transactions hold their first locks before either goes on. */
function barrier(parties: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  return () => {
    if (++arrived === parties) release();
    return open;
  };
}

describe('PostgreSQL: connection, migrations, schema', () => {
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await server.stop();
  });

  it('migrates a fresh database once: opening it again applies nothing', async () => {
    const url = await freshDatabase(server.url);
    const first = await open(url);
    const applied = await first.query<{ version: number; name: string; applied_at: Date }>('SELECT version, name, applied_at FROM kiln_migrations ORDER BY version');
    assert.deepEqual(
      applied.map((m) => [m.version, m.name]),
      postgresMigrations.map((m, i) => [i + 1, m.name]),
    );
    const again = await open(url);
    assert.deepEqual(await again.query('SELECT version, name, applied_at FROM kiln_migrations ORDER BY version'), applied);
  });

  it('refuses a database migrated by another schema', async () => {
    const url = await freshDatabase(server.url);
    await open(url);
    await assert.rejects(openPostgres(url, [{ name: 'something else', sql: 'SELECT 1' }]), /migration 1 is "blob service/);
  });

  it('servers starting at once on one database take turns under the advisory lock', async () => {
    const url = await freshDatabase(server.url);
    // While someone holds the lock, a starting server waits for it and creates nothing.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1, $2)', [ADVISORY_LOCK_SPACE, AdvisoryLock.migrations]);
    let done = false;
    const waiting = open(url).then(() => (done = true));
    await waitFor('the starting server to wait for the migration lock', async () => {
      const { rows } = await holder.query(
        `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'kiln'`,
      );
      return rows.length === 1 ? true : undefined;
    });
    assert.equal(done, false);
    assert.equal((await holder.query(`SELECT to_regclass('kiln_migrations') AS t`)).rows[0].t, null);
    await holder.query('SELECT pg_advisory_unlock($1, $2)', [ADVISORY_LOCK_SPACE, AdvisoryLock.migrations]);
    await holder.end();
    await waiting;

    // Three at once on another fresh database: all start, each migration applied once.
    const racing = await freshDatabase(server.url);
    const dbs = await Promise.all([open(racing), open(racing), open(racing)]);
    const rows = await dbs[0]!.query<{ n: number }>('SELECT count(*) AS n FROM kiln_migrations');
    assert.deepEqual(rows, [{ n: postgresMigrations.length }]);
  });

  it("has SQLite's tables, columns, primary keys and indexes", async () => {
    const db = await open();
    const sqlite = new Database(':memory:');
    for (const m of sqliteMigrations) sqlite.exec(m.sql);
    const sqliteTables = (sqlite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[]).map((t) => t.name);
    const expected = sqliteTables.map((table) => {
      const columns = sqlite.pragma(`table_info(${table})`) as { name: string; pk: number }[];
      const indexes = (sqlite.pragma(`index_list(${table})`) as { name: string; unique: number; origin: string }[])
        .filter((i) => i.origin === 'c')
        .map((i) => ({ name: i.name, unique: i.unique === 1, columns: (sqlite.pragma(`index_info(${i.name})`) as { name: string }[]).map((c) => c.name) }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const primaryKey = columns
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name);
      return { table, columns: columns.map((c) => c.name), primaryKey, indexes };
    });
    sqlite.close();

    const tables = await db.query<{ table: string; columns: string[] }>(
      `SELECT table_name AS table, array_agg(column_name::text ORDER BY ordinal_position) AS columns
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'kiln_migrations'
        GROUP BY table_name ORDER BY table_name COLLATE "C"`,
    );
    const indexes = await db.query<{ table: string; name: string; unique: boolean; primary: boolean; columns: string[] }>(
      `SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
              array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k (attnum, n)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace
        WHERE s.nspname = 'public' AND t.relname <> 'kiln_migrations'`,
    );
    const actual = tables.map(({ table, columns }) => ({
      table,
      columns,
      primaryKey: indexes.find((i) => i.table === table && i.primary)?.columns ?? [],
      indexes: indexes
        .filter((i) => i.table === table && !i.primary)
        .map(({ name, unique, columns }) => ({ name, unique, columns }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    }));
    assert.deepEqual(actual, expected);
  });

  it('orders ids and blob names in byte order, as SQLite pages them, whatever the database collation', async () => {
    const db = await open();
    const keys = ['a_1', 'a01', 'a-2', 'b', 'a'];
    const byteOrder = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    // The test server's default collation (ICU en-US) orders them otherwise: without COLLATE "C" this test fails.
    const [{ order }] = (await db.query<{ order: string[] }>(`SELECT array_agg(k ORDER BY k COLLATE "default") AS order FROM unnest($1::text[]) AS k`, [keys])) as [
      { order: string[] },
    ];
    assert.notDeepEqual(order, byteOrder);

    for (const key of keys) {
      await db.execute(
        `INSERT INTO batch_pools (account, id_key, id, state, creation_time, last_modified, state_transition_time, doc) VALUES ('acct', $1, $1, 'active', '', '', '', '{}')`,
        [key],
      );
    }
    await db.execute(`INSERT INTO containers (account, name, etag, created, last_modified, metadata) VALUES ('acct', 'c', 'e', 0, 0, '{}')`);
    for (const key of keys) {
      await db.execute(`INSERT INTO blobs (account, container, name, size, etag, created, last_modified, metadata) VALUES ('acct', 'c', $1, 0, 'e', 0, 0, '{}')`, [key]);
    }
    const pools = await db.query<{ id_key: string }>(`SELECT id_key FROM batch_pools WHERE account = 'acct' AND id_key > 'a' ORDER BY id_key`);
    assert.deepEqual(
      pools.map((p) => p.id_key),
      byteOrder.filter((k) => k !== 'a'),
    );
    const blobs = await db.query<{ name: string }>(`SELECT name FROM blobs WHERE account = 'acct' AND container = 'c' AND name LIKE 'a%' ORDER BY name`);
    assert.deepEqual(
      blobs.map((b) => b.name),
      byteOrder.filter((k) => k.startsWith('a')),
    );
  });

  it('returns BIGINTs as numbers and BYTEA as Buffers', async () => {
    const db = await open();
    await db.execute(`INSERT INTO containers (account, name, etag, created, last_modified, metadata) VALUES ('acct', 'c', 'e', $1, $1, '{}')`, [Date.now()]);
    const [blob] = await db.query<{ id: number }>(
      `INSERT INTO blobs (account, container, name, size, etag, created, last_modified, metadata) VALUES ('acct', 'c', 'x', 3, 'e', 0, 0, '{}') RETURNING id`,
    );
    await db.execute(`INSERT INTO blob_segments (blob_id, seq, data, "offset", length) VALUES ($1, 0, $2, 0, 3)`, [blob!.id, Buffer.from('abc')]);
    const rows = await db.query<{ created: number; n: number; data: Buffer }>(
      `SELECT c.created, (SELECT count(*) FROM blobs) AS n, s.data FROM containers c, blob_segments s WHERE s.blob_id = $1`,
      [blob!.id],
    );
    assert.equal(typeof blob!.id, 'number');
    assert.equal(typeof rows[0]!.created, 'number');
    assert.equal(rows[0]!.n, 1);
    assert.deepEqual(rows[0]!.data, Buffer.from('abc'));
  });

  describe('transactions', () => {
    let db: PostgresDatabase;
    before(async () => {
      db = await open();
      await db.execute('CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    });

    it('a transaction that throws leaves nothing, and is not run again', async () => {
      let calls = 0;
      await assert.rejects(
        db.transaction(async (tx) => {
          calls++;
          await tx.execute(`INSERT INTO scratch VALUES ('rolled back', 1)`);
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(calls, 1);
      assert.deepEqual(await db.query(`SELECT * FROM scratch WHERE k = 'rolled back'`), []);
    });

    it('of two concurrent read-then-write transactions, the one that cannot be serialised is run again: no update lost', async () => {
      await db.execute(`INSERT INTO scratch VALUES ('counter', 0)`);
      const bothRead = barrier(2);
      let calls = 0;
      const increment = () =>
        db.transaction(async (tx) => {
          const first = ++calls <= 2;
          const [{ v }] = (await tx.query<{ v: number }>(`SELECT v FROM scratch WHERE k = 'counter'`)) as [{ v: number }];
          if (first) await bothRead();
          await tx.execute(`UPDATE scratch SET v = $1 WHERE k = 'counter'`, [v + 1]);
          return v + 1;
        });
      const results = await Promise.all([increment(), increment()]);
      assert.deepEqual(
        results.sort((a, b) => a - b),
        [1, 2],
      );
      assert.equal(calls, 3);
      assert.deepEqual(await db.query(`SELECT v FROM scratch WHERE k = 'counter'`), [{ v: 2 }]);
    });

    it('of two transactions that deadlock, the victim is run again', async () => {
      await db.execute(`INSERT INTO scratch VALUES ('left', 0), ('right', 0)`);
      const [{ deadlocks: before }] = (await db.query<{ deadlocks: number }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')) as [
        { deadlocks: number },
      ];
      const bothLocked = barrier(2);
      let calls = 0;
      const bump = (first: string, second: string) =>
        db.transaction(async (tx) => {
          const firstAttempt = ++calls <= 2;
          await tx.execute('UPDATE scratch SET v = v + 1 WHERE k = $1', [first]);
          if (firstAttempt) await bothLocked();
          await tx.execute('UPDATE scratch SET v = v + 1 WHERE k = $1', [second]);
        });
      await Promise.all([bump('left', 'right'), bump('right', 'left')]);
      assert.ok(calls >= 3, `${calls} calls`);
      assert.deepEqual(await db.query(`SELECT k, v FROM scratch WHERE k IN ('left', 'right') ORDER BY k`), [
        { k: 'left', v: 2 },
        { k: 'right', v: 2 },
      ]);
      await waitFor('the deadlock to be counted', async () => {
        const [{ deadlocks }] = (await db.query<{ deadlocks: number }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')) as [{ deadlocks: number }];
        return deadlocks > before ? true : undefined;
      });
    });

    it('gives up after a bounded number of serialization failures', async () => {
      let calls = 0;
      await assert.rejects(
        db.transaction(async (tx) => {
          calls++;
          await tx.execute(`DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = 'serialization_failure'; END $$`);
        }),
        (err: Error & { code?: string }) => err.code === '40001',
      );
      assert.equal(calls, TRANSACTION_ATTEMPTS);
    });
  });
});

describe('the throwaway PostgreSQL server', () => {
  it('stop() leaves no process of the server and no directory', async () => {
    const own = await startPostgres();
    const db = await openPostgres(own.url, []);
    assert.deepEqual(await db.query('SELECT 1 AS one'), [{ one: 1 }]);
    await db.close();
    const pidFile = fs.readFileSync(path.join(own.dir, 'data/postmaster.pid'), 'utf8');
    assert.equal(Number(pidFile.split('\n')[0]), own.pid);
    const processes = serverProcesses(own.dir);
    assert.ok(processes.includes(own.pid) && processes.length > 1, 'the postmaster and its helper processes run');
    await own.stop();
    assert.deepEqual(serverProcesses(own.dir), []);
    assert.equal(fs.existsSync(own.dir), false);
  });

  it('a test process that crashes takes its server with it', () => {
    const script = `
      import { serverProcesses, startPostgres } from ${JSON.stringify(path.join(ROOT, 'test/helpers/postgres.ts'))};
      const server = await startPostgres();
      console.log(JSON.stringify({ dir: server.dir, processes: serverProcesses(server.dir).length }));
      throw new Error('the test crashed');`;
    const crashed = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    assert.notEqual(crashed.status, 0);
    assert.match(crashed.stderr, /the test crashed/);
    const { dir, processes } = JSON.parse(crashed.stdout) as { dir: string; processes: number };
    assert.ok(processes > 1, 'its server was running');
    assert.deepEqual(serverProcesses(dir), []);
    assert.equal(fs.existsSync(dir), false);
  });
});
