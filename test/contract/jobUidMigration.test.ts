import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { sqliteBatchStore } from '../../src/persistence/batch/store.js';
import { migrations } from '../../src/persistence/migrations.js';
import { postgresBatchStore } from '../../src/persistence/postgres/batchStore.js';
import { openPostgres } from '../../src/persistence/postgres/database.js';
import { postgresMigrations } from '../../src/persistence/postgres/schema.js';
import { openDatabase } from '../../src/persistence/sqlite/database.js';
import { tempDir } from '../helpers/kiln.js';
import { freshBatchDatabase } from './batchStores.js';

// Jobs stored before job uids existed (the last migration of each store) get one each when the
// store is upgraded, so that the runs of a job made before the upgrade still have their job.
const before = (list: typeof migrations) =>
  list.slice(
    0,
    list.findIndex((m) => m.name === 'batch service: job uids'),
  );
const row = (id: string) => [
  id.toLowerCase(),
  id,
  'active',
  '2030-01-01T00:00:00.000Z',
  '2030-01-01T00:00:00.000Z',
  '2030-01-01T00:00:00.000Z',
  JSON.stringify({ id, state: 'active' }),
];
const COLUMNS = 'account, id_key, id, state, creation_time, last_modified, state_transition_time, doc';

describe('jobs stored before job uids', () => {
  it('get a uid each when the SQLite store is upgraded', async () => {
    const dir = tempDir('kiln-uid-migration-');
    try {
      const old = openDatabase(dir, before(migrations));
      for (const id of ['a', 'b']) old.prepare(`INSERT INTO batch_jobs (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run('acct', ...row(id));
      old.close();
      const db = openDatabase(dir, migrations);
      const store = sqliteBatchStore(db);
      const [a, b] = [(await store.jobs.get('acct', 'a'))!, (await store.jobs.get('acct', 'b'))!];
      assert.match(a.uid, /^[0-9a-f]{32}$/);
      assert.notEqual(a.uid, b.uid);
      assert.equal((await store.jobs.getByUid('acct', b.uid))?.doc.id, 'b');
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('get a uid each when the PostgreSQL store is upgraded', async () => {
    const url = await freshBatchDatabase();
    const old = await openPostgres(url, before(postgresMigrations));
    for (const id of ['a', 'b']) await old.execute(`INSERT INTO batch_jobs (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, ['acct', ...row(id)]);
    await old.close();
    const db = await openPostgres(url, postgresMigrations);
    try {
      const store = postgresBatchStore(db);
      const [a, b] = [(await store.jobs.get('acct', 'a'))!, (await store.jobs.get('acct', 'b'))!];
      assert.match(a.uid, /^[0-9a-f]{32}$/);
      assert.notEqual(a.uid, b.uid);
      assert.equal((await store.jobs.getByUid('acct', b.uid))?.doc.id, 'b');
    } finally {
      await db.close();
    }
  });
});
