import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import { KILN_BIN, freePort, nodesTempDir, tempDir, waitFor } from '../helpers/kiln.js';

const OTHER_KEY = Buffer.alloc(64, 7).toString('base64');

const started: number[] = [];

/** `kiln up` as a user runs it, with its local nodes' directory in a temporary directory too. */
function runUp(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [KILN_BIN, 'up', '--nodes-dir', nodesTempDir(), ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  started.push(child.pid!);
  return { child, exit, output: () => output };
}

describe('kiln up', () => {
  // Whatever a failed test left running goes; temporary directories go when the process exits.
  after(() => {
    for (const pid of started) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // exited
      }
    }
  });

  it('takes ports, data and accounts from flags, prints a working connection string, and stops on SIGINT', async () => {
    const data = tempDir();
    const port = await freePort();
    const up = runUp(['--blob-port', String(port), '--batch-port', String(await freePort()), '--data', data, '--account', `tenant1:${OTHER_KEY}`]);
    await waitFor('the ready line', () => (up.output().includes('Press Ctrl+C') ? true : undefined));
    const cs = /connection string: (\S+)/.exec(up.output())?.[1];
    assert.equal(cs, `DefaultEndpointsProtocol=http;AccountName=tenant1;AccountKey=${OTHER_KEY};BlobEndpoint=http://127.0.0.1:${port}/tenant1;`);
    assert.ok(!up.output().includes('devstoreaccount1'), 'an explicit account replaces the default one');
    const client = BlobServiceClient.fromConnectionString(cs!);
    await client.getContainerClient('from-cli').create();
    assert.ok(fs.existsSync(`${data}/kiln.sqlite`), 'data lands in --data');
    process.kill(-up.child.pid!, 'SIGINT');
    assert.equal(await up.exit, 0);
  });

  it('reads KILN_* environment variables and stops on SIGTERM', async () => {
    const data = tempDir();
    const port = await freePort();
    const up = runUp([], { KILN_BLOB_PORT: String(port), KILN_BATCH_PORT: String(await freePort()), KILN_DATA: data, KILN_ACCOUNTS: '' });
    await waitFor('the ready line', () => (up.output().includes('Press Ctrl+C') ? true : undefined));
    assert.match(up.output(), new RegExp(`BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`));
    process.kill(-up.child.pid!, 'SIGTERM');
    assert.equal(await up.exit, 0);
  });

  it('refuses a malformed account with a clear message', async () => {
    const data = tempDir();
    const up = runUp(['--blob-port', '0', '--data', data, '--account', 'Bad_Name:abc']);
    assert.equal(await up.exit, 1);
    assert.match(up.output(), /account name "Bad_Name" must be 3-24 lower-case letters and digits/);
  });
});
