import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';
import { freshDatabase, startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { addPool, stopKiln, uid, waitForTasks } from '../nodes/helpers.js';

/** The rows of one query on the database at `url`, on a connection of the test's own. */
async function query<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** `kiln up` with KILN_STORE set for it (the helper's child inherits the environment when spawned). */
async function startKilnWithEnvStore(url: string, opts: Parameters<typeof startKiln>[0]): Promise<KilnProcess> {
  process.env.KILN_STORE = url;
  try {
    return await startKiln(opts);
  } finally {
    delete process.env.KILN_STORE;
  }
}

describe('kiln up --store postgres://…', () => {
  let server: PostgresServer;
  let url: string;
  before(async () => {
    server = await startPostgres();
    url = await freshDatabase(server.url);
  });
  after(() => server.stop());

  it('keeps the Batch and Blob state in PostgreSQL: a job runs to completion, a blob is stored, and both are there after a restart', async () => {
    const first = await startKiln({ extraArgs: ['--store', url] });
    const password = new URL(url).password;
    assert.match(first.output(), /State: +PostgreSQL postgres:\/\/kiln:\*\*\*@127\.0\.0\.1:\d+\/kiln_\w+ \(blob bytes in /);
    assert.ok(!first.output().includes(password), 'the banner hides the password');

    const client = first.batchClient();
    const poolId = uid('pool');
    const jobId = uid('job');
    await addPool(client, poolId, 1);
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.addCollection(
      jobId,
      [1, 2, 3].map((n) => ({ id: `t${n}`, commandLine: `/bin/sh -c 'echo task ${n}'` })),
    );
    const tasks = await waitForTasks(client, jobId, 3);
    assert.deepEqual(
      tasks.map((t) => [t.id, t.executionInfo?.exitCode]),
      [
        ['t1', 0],
        ['t2', 0],
        ['t3', 0],
      ],
    );
    const container = first.blobService().getContainerClient(uid('box'));
    await container.create();
    await container.getBlockBlobClient('greeting.txt').upload('hello from kiln', 15);

    // The state is in the database, not in the data directory; the blob's bytes are in the data directory.
    const rows = await query<{ id: string; state: string }>(url, `SELECT t.id, t.state FROM batch_tasks t JOIN batch_jobs j ON j.pk = t.job_pk WHERE j.id = $1 ORDER BY t.id_key`, [
      jobId,
    ]);
    assert.deepEqual(
      rows,
      ['t1', 't2', 't3'].map((id) => ({ id, state: 'completed' })),
    );
    assert.equal((await query(url, 'SELECT 1 FROM blobs WHERE container = $1', [container.containerName])).length, 1);
    assert.ok(!fs.existsSync(path.join(first.dataDir, 'kiln.sqlite')), 'no SQLite database in the data directory');
    assert.equal(await first.stop(), 0);

    // Restarted on the same database (named by KILN_STORE this time) and the same data directory.
    const second = await startKilnWithEnvStore(url, { dataDir: first.dataDir, nodesDir: first.nodesDir });
    try {
      const again = second.batchClient();
      assert.equal((await again.job.get(jobId)).id, jobId);
      assert.deepEqual(
        (await again.task.list(jobId)).map((t) => [t.id, t.state]),
        [
          ['t1', 'completed'],
          ['t2', 'completed'],
          ['t3', 'completed'],
        ],
      );
      assert.equal((await again.pool.get(poolId)).id, poolId);
      const blob = second.blobService().getContainerClient(container.containerName).getBlobClient('greeting.txt');
      assert.equal((await blob.downloadToBuffer()).toString(), 'hello from kiln');
    } finally {
      await stopKiln(second);
    }
  });

  it('refuses a store that is neither sqlite nor a PostgreSQL URL, without printing its password', async () => {
    await assert.rejects(startKiln({ extraArgs: ['--store', 'mysql://kiln:s3cret@db/kiln'] }), (err: Error) => {
      assert.match(err.message, /--store must be sqlite or a PostgreSQL URL/);
      assert.ok(!err.message.includes('s3cret'));
      return true;
    });
  });
});
