import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { BatchContext } from '../../src/domain/batch/context.js';
import { addJob, newJobDoc } from '../../src/domain/batch/jobs/addJob.js';
import type { BatchStore } from '../../src/domain/batch/store.js';
import { sqliteBatchStore } from '../../src/persistence/batch/store.js';
import { migrations } from '../../src/persistence/migrations.js';
import { postgresBatchStore } from '../../src/persistence/postgres/batchStore.js';
import { openPostgres, type PostgresDatabase } from '../../src/persistence/postgres/database.js';
import { postgresMigrations } from '../../src/persistence/postgres/schema.js';
import { openDatabase } from '../../src/persistence/sqlite/database.js';
import { JOB_FIELDS } from '../../src/protocol/batch/handlers/jobs.js';
import { compileFilter } from '../../src/protocol/batch/odata/filter.js';
import { tempDir, waitFor } from '../helpers/kiln.js';
import { freshBatchDatabase } from './batchStores.js';

// What only PostgreSQL's Batch store has to show: several Kiln servers on one database, each with a
// pool of its own (two stores here), whose units of work still run one at a time; and list order and
// conditions in byte order, as SQLite gives them, on a database whose collation is ICU's en-US.

const ctxOf = (store: BatchStore, account = 'acct'): BatchContext => ({ store, account, now: new Date('2030-01-01T00:00:00Z'), hooks: {} });

describe('PostgreSQL Batch store: two servers on one database', () => {
  let dbs: PostgresDatabase[];
  let first: BatchStore;
  let second: BatchStore;
  before(async () => {
    const url = await freshBatchDatabase();
    dbs = [await openPostgres(url, postgresMigrations), await openPostgres(url, postgresMigrations)];
    [first, second] = dbs.map(postgresBatchStore) as [BatchStore, BatchStore];
  });
  after(() => Promise.all(dbs.map((db) => db.close())));

  const priority = async (store: BatchStore, id: string) => (await store.jobs.get('acct', id))!.doc.priority;

  it('units of work on both read-modify-write the same job at once: no update is lost', async () => {
    await addJob(ctxOf(first), { id: 'counter', poolInfo: { poolId: 'p' }, priority: 0 });
    const bump = (store: BatchStore) =>
      store.tx(async () => {
        const job = (await store.jobs.get('acct', 'counter'))!;
        // A round trip between the read and the write, during which the other server's units of work try to run.
        await store.pools.exists('acct', 'p');
        job.doc.priority = (job.doc.priority ?? 0) + 1;
        await store.jobs.update('acct', job.doc);
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? first : second)));
    assert.equal(await priority(first, 'counter'), 20);
    assert.equal(await priority(second, 'counter'), 20);
  });

  it("a write outside any unit of work waits for the other server's unit of work, which sees nothing of it", async () => {
    await addJob(ctxOf(first), { id: 'held', poolInfo: { poolId: 'p' }, priority: 0 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => (inside = resolve));
    const order: string[] = [];
    const unit = first.tx(async () => {
      const job = (await first.jobs.get('acct', 'held'))!;
      inside();
      await released;
      job.doc.priority = 1;
      await first.jobs.update('acct', job.doc);
      first.afterCommit(() => order.push('first committed'));
    });
    await entered;
    const job = (await second.jobs.get('acct', 'held'))!;
    job.doc.priority = 5;
    const write = second.jobs.update('acct', job.doc).then(() => order.push('second wrote'));
    try {
      // The second server's write waits on the lock the first one's unit of work holds.
      await waitFor('the second write to wait for the lock', async () => {
        const [row] = await dbs[0]!.query<{ n: number }>(
          `SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        return row!.n > 0 || undefined;
      });
      assert.deepEqual(order, []);
    } finally {
      release(); // also when the wait failed: the unit of work must end for the store to close
    }
    await Promise.all([unit, write]);
    // Both answers come as the lock goes, on two connections: which this process reads first is not
    // the order of the writes. That order is the stored value's: the waiting write came last.
    assert.deepEqual([...order].sort(), ['first committed', 'second wrote']);
    assert.equal(await priority(first, 'held'), 5, 'the later write is the one kept');
  });

  it("a unit of work that fails releases the lock: the other server's next one runs", async () => {
    await assert.rejects(
      first.tx(async () => {
        await first.jobs.insert('acct', newJobDoc(ctxOf(first), 'abandoned', { poolInfo: { poolId: 'p' } }));
        throw new Error('abandon');
      }),
      /abandon/,
    );
    assert.equal(await second.jobs.exists('acct', 'abandoned'), false);
    await second.tx(() => addJob(ctxOf(second), { id: 'after', poolInfo: { poolId: 'p' } }));
    assert.equal(await first.jobs.exists('acct', 'AFTER'), true);
  });
});

describe('PostgreSQL Batch store: lists as SQLite answers them', () => {
  let pgDb: PostgresDatabase;
  let dir: string;
  let sqliteClose: () => void;
  const stores: { name: string; store: BatchStore }[] = [];
  before(async () => {
    pgDb = await openPostgres(await freshBatchDatabase(), postgresMigrations);
    dir = tempDir('kiln-pg-lists-');
    const sqliteDb = openDatabase(dir, migrations);
    sqliteClose = () => sqliteDb.close();
    stores.push({ name: 'SQLite', store: sqliteBatchStore(sqliteDb) }, { name: 'PostgreSQL', store: postgresBatchStore(pgDb) });
    // Ids and pool ids whose byte order differs from an ICU locale's ('_' sorts before '-' there, and case is ignored).
    const specs: [string, string | undefined, number][] = [
      ['a_1', 'pool_a', 0],
      ['a01', 'pool-a', 1],
      ['A-2', 'Pool.B', 2],
      ['b', undefined, 3],
      ['é', 'pool1', 4],
      ['Z', 'poola', 5],
    ];
    for (const { store } of stores) {
      for (const [id, poolId, minutes] of specs) {
        const doc = newJobDoc(ctxOf(store), id, { poolInfo: poolId ? { poolId } : {} });
        doc.stateTransitionTime = new Date(Date.UTC(2030, 0, 1, 0, minutes)).toISOString();
        await store.jobs.insert('acct', doc);
      }
    }
  });
  after(async () => {
    sqliteClose();
    fs.rmSync(dir, { recursive: true, force: true });
    await pgDb.close();
  });

  /** The ids of every page of a list, `limit` rows a page. */
  const listAll = async (store: BatchStore, filter: string | undefined, limit: number): Promise<string[]> => {
    const where = filter === undefined ? undefined : compileFilter(filter, JOB_FIELDS).where;
    if (filter !== undefined) assert.ok(where, `${filter} is answered by the store`);
    const ids: string[] = [];
    for (let afterKey: string | undefined; ;) {
      const page = await store.jobs.list('acct', { where, afterKey, limit });
      ids.push(...page.map((r) => r.id));
      if (page.length < limit) return ids;
      afterKey = page.at(-1)!.id_key;
    }
  };

  it('pages in byte order of the id keys', async () => {
    const [sqlite, postgres] = await Promise.all(stores.map(({ store }) => listAll(store, undefined, 2)));
    assert.deepEqual(sqlite, ['A-2', 'a01', 'a_1', 'b', 'Z', 'é']);
    assert.deepEqual(postgres, sqlite);
  });

  it('answers every form of condition with the same rows, NULL columns and byte order included', async () => {
    const filters = [
      "executionInfo/poolId gt 'pool-a'",
      "executionInfo/poolId lt 'pool_a'",
      "executionInfo/poolId ne 'pool-a'",
      'executionInfo/poolId eq null',
      'executionInfo/poolId ne null',
      'executionInfo/poolId gt null',
      "not (executionInfo/poolId eq 'pool-a')",
      "not startswith(executionInfo/poolId,'pool')",
      "startswith(id,'A')",
      "id ge 'a0' and id le 'a_'",
      "not startswith(id,'a') and state eq 'active'",
      "state eq 'active' or stateTransitionTime ge datetime'2030-01-01T00:03:00Z'",
      "stateTransitionTime lt datetime'2030-01-01T00:02:00Z' or id eq 'Z'",
    ];
    for (const filter of filters) {
      const [sqlite, postgres] = await Promise.all(stores.map(({ store }) => listAll(store, filter, 2)));
      assert.deepEqual(postgres, sqlite, filter);
    }
    // The filters above are not all trivially empty or full, and tell byte order from a locale's.
    assert.deepEqual(await listAll(stores[1]!.store, "executionInfo/poolId gt 'pool-a'", 10), ['A-2', 'a_1', 'Z', 'é']);
    assert.deepEqual(await listAll(stores[1]!.store, "not (executionInfo/poolId eq 'pool-a')", 10), ['A-2', 'a_1', 'b', 'Z', 'é']);
  });
});
