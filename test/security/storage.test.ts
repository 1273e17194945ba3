import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { BlobService } from '../../src/domain/blob/service.js';
import { ExtentStore } from '../../src/persistence/blob/extentStore.js';
import { SqliteBlobStore } from '../../src/persistence/blob/sqliteBlobStore.js';
import { ACCOUNT, freePort, KEY, KILN_BIN, startKiln, nodesTempDir, tempDir, waitFor } from '../helpers/kiln.js';
import { addPool, alive, nonAdmin, stopKiln, taskFile, uid, vm, waitForTask } from '../nodes/helpers.js';
import { readTrace, type TraceEvent } from './storageTrace.js';

// Kiln's own data is Kiln's alone (0700/0600, tasks cannot read it, keys never needed in argv); one
// server per data directory; garbage collection spares uploads in flight, also those of another server
// over the same blob directory; an answered write is on the disk first (fsync order, traced).

const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** Every directory and file under `dir`, with its mode. */
function modes(dir: string): Map<string, number> {
  const out = new Map<string, number>([[dir, mode(dir)]]);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) for (const [p, m] of modes(full)) out.set(p, m);
    else out.set(full, mode(full));
  }
  return out;
}

/** A directory every user may enter: what /var/lib or a home directory usually is. */
function openParent(prefix: string): string {
  const dir = tempDir(prefix);
  fs.chmodSync(dir, 0o755);
  return dir;
}

const extentFiles = (dataDir: string): string[] => {
  const root = path.join(dataDir, 'extents');
  return fs.readdirSync(root).flatMap((prefix) => fs.readdirSync(path.join(root, prefix)).map((name) => path.join(root, prefix, name)));
};

describe('Kiln data is private', () => {
  it("keeps its data 0700/0600, fixes an older Kiln's modes, and a non-admin task reads none of it", async () => {
    const dataDir = path.join(openParent('kiln-private-'), 'data');
    const blobText = `blob-bytes-${randomBytes(8).toString('hex')}`;
    const older = await startKiln({ dataDir });
    const container = older.blobService().getContainerClient('private');
    await container.create();
    await container.getBlockBlobClient('big').upload(Buffer.from(blobText.repeat(40_000)), blobText.length * 40_000);
    await older.stop();
    // What an older Kiln left: every directory 0755, every file 0644.
    for (const [p] of modes(dataDir)) fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);

    const kiln = await startKiln({ dataDir, nodesDir: older.nodesDir });
    try {
      const secret = `s3cret-${randomBytes(8).toString('hex')}`;
      await kiln.blobService().getContainerClient('private').getBlockBlobClient('small').upload(Buffer.from(blobText), blobText.length);

      const batch = kiln.batchClient();
      const poolId = uid('private');
      await addPool(batch, poolId, 1);
      const secretJob = uid('secret-job');
      await batch.job.add({ id: secretJob, poolInfo: { poolId } });
      await batch.task.add(secretJob, { id: 'holder', commandLine: '/bin/true', environmentSettings: [{ name: 'SECRET', value: secret }] });
      await waitForTask(batch, secretJob, 'holder');

      for (const [p, m] of modes(dataDir)) {
        const isDir = fs.statSync(p).isDirectory();
        assert.equal(m, isDir ? 0o700 : 0o600, `${p} is ${m.toString(8)}`);
      }
      assert.equal(extentFiles(dataDir).length, 1, 'the big blob has an extent of its own');
      const logs = fs.readdirSync(path.join(kiln.nodesDir, 'devstoreaccount1', poolId.toLowerCase())).filter((n) => n.endsWith('.agent.log'));
      assert.equal(logs.length, 1);
      assert.equal(mode(path.join(kiln.nodesDir, 'devstoreaccount1', poolId.toLowerCase(), logs[0]!)), 0o600, "agent logs are Kiln's");

      // The attack: a non-admin task reads the database, its WAL and every extent. A file that is
      // not private, beside it, shows that the task does read what it may.
      const readable = path.join(openParent('kiln-readable-'), 'control.txt');
      fs.writeFileSync(readable, 'control-readable', { mode: 0o644 });
      const attackJob = uid('attack-job');
      await batch.job.add({ id: attackJob, poolInfo: { poolId } });
      const targets = [`${dataDir}/kiln.sqlite`, `${dataDir}/kiln.sqlite-wal`, `${dataDir}/extents/*/*`, `${kiln.nodesDir}/devstoreaccount1/*/*.agent.log`];
      await batch.task.add(attackJob, {
        id: 'reader',
        commandLine: `/bin/sh -c 'cat ${readable}; for f in ${targets.join(' ')}; do cat "$f"; done; ls ${dataDir}'`,
        userIdentity: nonAdmin,
      });
      const task = await waitForTask(batch, attackJob, 'reader');
      const stdout = await taskFile(kiln, batch, attackJob, 'reader', 'stdout.txt');
      const stderr = await taskFile(kiln, batch, attackJob, 'reader', 'stderr.txt');
      assert.ok(stdout.includes('control-readable'), `the task ran and read what it may: ${stdout} ${stderr}`);
      assert.ok(!stdout.includes(secret), "another job's secret stays in the database");
      assert.ok(!stdout.includes(blobText), 'blob bytes stay in the extents');
      assert.match(stderr, /Permission denied/);
      assert.notEqual(task.executionInfo?.exitCode, 0, 'ls of the data directory fails too');
    } finally {
      await stopKiln(kiln);
    }
  });
});

describe('secrets are never needed on the command line', () => {
  const account = 'filedacct';
  const key = randomBytes(64).toString('base64');

  it('takes accounts from a file only its owner can read, and warns of a key given in argv', async () => {
    const dir = tempDir('kiln-accounts-');
    const file = path.join(dir, 'accounts');
    fs.writeFileSync(file, `# accounts of this Kiln\n${account}:${key}\n`, { mode: 0o600 });
    const kiln = await startKiln({ extraArgs: ['--accounts-file', file] });
    try {
      assert.ok(!kiln.output().includes('warning'), kiln.output());
      const client = new BlobServiceClient(`http://127.0.0.1:${kiln.blobPort}/${account}`, new StorageSharedKeyCredential(account, key));
      await client.getContainerClient('from-file').create();
      assert.equal((await client.getContainerClient('from-file').getProperties()).errorCode, undefined);
    } finally {
      await stopKiln(kiln, dir);
    }

    const argv = await startKiln({ extraArgs: ['--account', `${account}:${key}`] });
    try {
      assert.match(argv.output(), new RegExp(`warning: the key of account ${account} is on the command line`));
    } finally {
      await stopKiln(argv);
    }
  });

  it('refuses an accounts file others can read', async () => {
    const dir = tempDir('kiln-accounts-');
    const file = path.join(dir, 'accounts');
    fs.writeFileSync(file, `${account}:${key}\n`);
    fs.chmodSync(file, 0o644);
    const data = tempDir('kiln-refused-');
    const run = spawnSync(process.execPath, [KILN_BIN, 'up', '--data', data, '--accounts-file', file, '--blob-port', '0', '--batch-port', '0'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, KILN_ACCOUNTS: '' },
    });
    assert.equal(run.status, 1, run.stdout + run.stderr);
    assert.match(run.stderr, /mode 0644, open to other users: chmod 600/);
    assert.ok(!run.stdout.includes(key) && !run.stderr.includes(key), 'the refusal does not print the key');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  });
});

describe('one server per data directory', () => {
  it('refuses a second kiln up naming the first, and takes over after a kill -9', async () => {
    const first = await startKiln();
    const blobPort = await freePort();
    const second = spawnSync(process.execPath, [KILN_BIN, 'up', '--data', first.dataDir, '--nodes-dir', first.nodesDir, '--blob-port', String(blobPort), '--batch-port', '0'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, KILN_ACCOUNTS: '' },
    });
    assert.equal(second.status, 1, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`in use by the Kiln server pid ${first.child.pid} on .*\\(Blob port ${first.blobPort}, Batch port ${first.batchPort}\\)`));
    assert.ok(!second.stdout.includes('Kiln is up'));
    await first.blobService().getContainerClient('still-first').create();

    // The lock is the kernel's: a kill -9 frees it, with no stale file to clear.
    await first.kill9();
    const next = await startKiln({ dataDir: first.dataDir, nodesDir: first.nodesDir });
    try {
      assert.equal((await next.blobService().getContainerClient('still-first').getProperties()).errorCode, undefined);
    } finally {
      await stopKiln(next);
    }
  });
});

describe('garbage collection spares uploads in flight', () => {
  it('another store over the same blob directory sweeps orphans but not a stalled upload', async () => {
    const graceMs = 1000;
    const kiln = await startKiln({ extraArgs: ['--orphan-extent-grace', String(graceMs)] });
    const gcDb = new Database(path.join(kiln.dataDir, 'kiln.sqlite'));
    after(() => gcDb.close());
    try {
      const blob = kiln.blobService().getContainerClient('inflight');
      await blob.create();
      const client = blob.getBlockBlobClient('slow');
      const [head, tail] = [randomBytes(512 << 10), randomBytes(512 << 10)];
      const body = new PassThrough();
      const blockId = Buffer.from('block-1').toString('base64');
      const staged = client.stageBlock(blockId, () => body, head.length + tail.length);
      body.write(head);
      const inFlight = await waitFor("the upload's extent", () => extentFiles(kiln.dataDir)[0]);

      // What a crash left: an extent nothing refers to, older than the grace period.
      const orphan = path.join(kiln.dataDir, 'extents', '00', '00'.repeat(16));
      fs.writeFileSync(orphan, 'cut off');
      const longAgo = new Date(Date.now() - 10 * graceMs);
      fs.utimesSync(orphan, longAgo, longAgo);

      // A second server's collector (issue #10 shares blob directories): its own store and byte store.
      const other = new BlobService(new SqliteBlobStore(gcDb), new ExtentStore(kiln.dataDir, { orphanGraceMs: graceMs }));
      const stalledAt = Date.now();
      let passes = 0;
      await waitFor(
        'collections over a stall of four grace periods',
        async () => {
          await other.collectGarbage();
          passes++;
          assert.ok(fs.existsSync(inFlight), `the extent of the upload in flight survives pass ${passes}`);
          return Date.now() - stalledAt > 4 * graceMs ? true : undefined;
        },
        30_000,
      );
      assert.ok(!fs.existsSync(orphan), 'the collector does remove real orphans');

      body.end(tail);
      await staged;
      await client.commitBlockList([blockId]);
      assert.deepEqual(await client.downloadToBuffer(), Buffer.concat([head, tail]));
    } finally {
      await stopKiln(kiln);
    }
  });
});

// strace comes with the test set-up (scripts/test-setup.sh).
describe('an answered write is on the disk first', () => {
  it('fsyncs extents and their directories before the commit, and the WAL before every 201 (traced)', async () => {
    const dataDir = tempDir('kiln-trace-');
    const nodesDir = nodesTempDir('kiln-trace-nodes-');
    const traceFile = path.join(tempDir('kiln-trace-out-'), 'trace');
    const [blobPort, batchPort] = [await freePort(), await freePort()];
    const child = spawn(
      '/usr/bin/strace',
      [
        '-f',
        '-y',
        '-qq',
        '-e',
        'trace=openat,fsync,fdatasync,pwrite64,write,writev',
        '-o',
        traceFile,
        process.execPath,
        KILN_BIN,
        'up',
        '--data',
        dataDir,
        '--nodes-dir',
        nodesDir,
        '--blob-port',
        String(blobPort),
        '--batch-port',
        String(batchPort),
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KILN_ACCOUNTS: '' } },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    after(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    });
    await waitFor(
      'kiln up under strace',
      () => {
        if (child.exitCode !== null) throw new Error(output);
        return output.includes('Kiln is up') ? true : undefined;
      },
      30_000,
    );

    const blobs = new BlobServiceClient(`http://127.0.0.1:${blobPort}/${ACCOUNT}`, new StorageSharedKeyCredential(ACCOUNT, KEY));
    const container = blobs.getContainerClient('traced');
    await container.create();
    await container.getBlockBlobClient('big').upload(randomBytes(1 << 20), 1 << 20);
    await container.getBlockBlobClient('small').upload(randomBytes(4096), 4096);
    const blocks = container.getBlockBlobClient('blocks');
    const blockId = Buffer.from('b1').toString('base64');
    await blocks.stageBlock(blockId, randomBytes(300 << 10), 300 << 10);
    await blocks.commitBlockList([blockId]);
    const batch = new BatchServiceClient(new BatchSharedKeyCredentials(ACCOUNT, KEY), `http://127.0.0.1:${batchPort}`);
    await batch.pool.add({ id: 'traced', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });

    const kilnPid = (JSON.parse(fs.readFileSync(path.join(dataDir, 'server.json'), 'utf8')) as { pid: number }).pid;
    // Kiln alone is stopped: strace ends with it, and writes its log out whole.
    process.kill(kilnPid, 'SIGTERM');
    await exited;
    assert.equal(alive(kilnPid), false);
    const events = readTrace(fs.readFileSync(traceFile, 'utf8'));
    const wal = (e: TraceEvent) => e.path?.endsWith('/kiln.sqlite-wal') === true;
    const answers = events.filter((e) => (e.call === 'write' || e.call === 'writev') && e.path?.startsWith('socket:') && e.text.includes('HTTP/1.1 201'));
    assert.ok(answers.length >= 6, `six creations answered 201 (container, two Put Blobs, Put Block, Put Block List, pool): ${answers.length}`);

    for (const answer of answers) {
      const commit = events.filter((e) => e.call === 'pwrite64' && wal(e) && e.end < answer.start).at(-1);
      assert.ok(commit, 'every creation commits to the WAL before its answer');
      assert.ok(
        events.some((e) => (e.call === 'fsync' || e.call === 'fdatasync') && wal(e) && e.start > commit.end && e.end < answer.start),
        `the WAL is synced after the commit and before the answer at trace line ${answer.start}`,
      );
    }

    const extents = [...new Set(events.filter((e) => /\/extents\/[0-9a-f]{2}\/[0-9a-f]{32}$/.test(e.path ?? '') && e.call !== 'openat').map((e) => e.path!))];
    assert.equal(extents.length, 2, `the 1 MiB blob and the 300 KiB block have extents: ${extents.join(', ')}`);
    for (const extent of extents) {
      const opened = events.find((e) => e.call === 'openat' && e.text.includes(`"${extent}"`));
      assert.ok(opened, `extent ${extent} opened`);
      assert.match(opened.text, /O_CREAT\|O_EXCL.*, 0600\)/, 'created exclusively, 0600');
      const lastWrite = events.filter((e) => (e.call === 'write' || e.call === 'writev') && e.path === extent).at(-1)!;
      const answer = answers.find((a) => a.start > lastWrite.end)!;
      const commit = events.filter((e) => e.call === 'pwrite64' && wal(e) && e.end < answer.start).at(-1)!;
      assert.ok(commit.start > lastWrite.end, 'the commit comes after the bytes');
      assert.ok(
        events.some((e) => (e.call === 'fsync' || e.call === 'fdatasync') && e.path === extent && e.start > lastWrite.end && e.end < commit.start),
        `the extent ${extent} is fsynced after its last write and before its commit`,
      );
      assert.ok(
        events.some((e) => e.call === 'fsync' && e.path === path.dirname(extent) && e.start > opened.end && e.end < commit.start),
        `its directory is fsynced after the file was created and before the commit`,
      );
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(nodesDir, { recursive: true, force: true });
  });
});
