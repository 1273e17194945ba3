import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { ContainerSASPermissions } from '@azure/storage-blob';
import { backoffMs, DEFAULT_TRANSFER_POLICY, errorReason, isTransient, TransferStatusError, withRetries, type TransferPolicy } from '../../src/agent/transfers.js';
import { ACCOUNT, freePort, startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, gates, sharedTempDir, stopKiln, uid, waitForTask } from './helpers.js';

const quick: TransferPolicy = { attempts: 3, firstBackoffMs: 10, maxBackoffMs: 40, idleTimeoutMs: 300 };

/** An HTTP server of the test's, answering each request with what `answer` says (counting them). */
async function server(answer: (n: number, res: http.ServerResponse) => void): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const s = http.createServer((req, res) => {
    req.resume();
    answer(++n, res);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/x`,
    requests: () => n,
    close: () =>
      new Promise((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

const get = (url: string) => async (attempt: { signal: AbortSignal }) => {
  const response = await fetch(url, { signal: attempt.signal });
  const text = await response.text();
  if (!response.ok) throw new TransferStatusError(`answered ${response.status}`, response.status);
  return text;
};

describe('the transfer retry policy (in-process, against real sockets)', () => {
  it("takes a refused connection, a timeout, 408, 429 and 5xx for transient, and 403, 404, a missing host name or the agent's own errors not", async () => {
    const refused = await fetch(`http://127.0.0.1:${await freePort()}/`).catch((err: unknown) => err);
    assert.equal(isTransient(refused), true);
    assert.equal(errorReason(refused), 'connection refused (ECONNREFUSED)');
    for (const status of [500, 503, 408, 429]) assert.equal(isTransient(new TransferStatusError('x', status)), true, String(status));
    for (const status of [400, 403, 404, 409]) assert.equal(isTransient(new TransferStatusError('x', status)), false, String(status));
    assert.equal(isTransient(new DOMException('no progress', 'TimeoutError')), true);
    const noSuchHost = new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND nowhere'), { code: 'ENOTFOUND' }) });
    assert.equal(isTransient(noSuchHost), false);
    assert.equal(errorReason(noSuchHost), 'the host name does not resolve (DNS) (ENOTFOUND)');
    assert.equal(isTransient(Object.assign(new Error('no space'), { code: 'ENOSPC' })), false);
  });

  it('waits twice as long before each try, ±20 %, up to its cap: 5 tries over about 30 s by default', () => {
    const waits = [1, 2, 3, 4].map((n) => backoffMs(DEFAULT_TRANSFER_POLICY, n));
    [2000, 4000, 8000, 16_000].forEach((nominal, i) => assert.ok(waits[i]! >= nominal * 0.8 && waits[i]! <= nominal * 1.2, `${waits[i]} near ${nominal}`));
    assert.ok(backoffMs(DEFAULT_TRANSFER_POLICY, 9) <= DEFAULT_TRANSFER_POLICY.maxBackoffMs * 1.2);
  });

  it('retries 503 until answered, logging each retry; a 404 fails at once with its own message', async () => {
    const flaky = await server((n, res) => (n < 3 ? res.writeHead(503).end() : res.end('body')));
    const lines: string[] = [];
    try {
      assert.equal(await withRetries('getting x', get(flaky.url), { policy: quick, log: (m) => lines.push(m) }), 'body');
      assert.equal(flaky.requests(), 3);
      assert.equal(lines.length, 2);
      assert.match(lines[0]!, /^getting x failed \(answered 503\); attempt 2 of 3 in \d+ ms$/);
    } finally {
      await flaky.close();
    }
    const missing = await server((_n, res) => res.writeHead(404).end());
    try {
      await assert.rejects(
        withRetries('getting x', get(missing.url), { policy: quick, log: (m) => lines.push(m), fail: (m) => new RangeError(m) }),
        (err: Error) => err instanceof RangeError && err.message === 'answered 404',
      );
      assert.equal(missing.requests(), 1, 'a 404 is not retried');
    } finally {
      await missing.close();
    }
  });

  it('abandons an attempt that makes no progress, and says how many were made', async () => {
    const silent = await server(() => undefined);
    try {
      await assert.rejects(
        withRetries('getting x', get(silent.url), { policy: { ...quick, attempts: 2 }, log: () => undefined }),
        /^Error: getting x failed after 2 attempt\(s\): timed out \(no progress for 300 ms\)$/,
      );
      assert.equal(silent.requests(), 2);
    } finally {
      await silent.close();
    }
  });
});

describe('resource files and output files across a restart of the Blob service', () => {
  // Kiln A runs the node; Kiln B's Blob service holds the task's files, and is stopped twice meanwhile.
  let a: KilnProcess;
  let b: KilnProcess;
  let client: BatchServiceClient;
  let scratch: string;
  let nodeId: string;
  const poolId = uid('transfers');
  const gate = gates(() => scratch);
  const agentLog = () => fs.readFileSync(path.join(a.nodesDir, ACCOUNT, poolId.toLowerCase(), `${nodeId}.agent.log`), 'utf8');
  const restartB = async () => {
    const { dataDir, nodesDir, blobPort, batchPort } = b;
    b = await startKiln({ dataDir, nodesDir, blobPort, batchPort });
  };

  before(async () => {
    // kiln up's agents inherit these: quicker retries than the defaults, enough of them to span a restart.
    process.env.KILN_TRANSFER_BACKOFF_MS = '200';
    process.env.KILN_TRANSFER_ATTEMPTS = '12';
    a = await startKiln();
    b = await startKiln();
    client = a.batchClient();
    scratch = sharedTempDir('kiln-transfers-');
    nodeId = (await addPool(client, poolId, 1)).map((n) => n.id!)[0]!;
  });
  after(async () => {
    delete process.env.KILN_TRANSFER_BACKOFF_MS;
    delete process.env.KILN_TRANSFER_ATTEMPTS;
    await stopKiln(b);
    await stopKiln(a, scratch);
  });

  it('downloads once the Blob service is back, and uploads the output after it restarted again; the task succeeds', async () => {
    const container = b.blobService().getContainerClient(uid('files'));
    await container.create();
    await container.getBlockBlobClient('input/data.txt').upload('the input\n', 10);
    const sas = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rcwl'), expiresOn: new Date(Date.now() + 3600_000) });
    assert.equal(await b.stop(), 0);

    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.add(jobId, {
      id: 'across',
      commandLine: gate.gated('upload', 'cp input/data.txt out.txt'),
      resourceFiles: [{ storageContainerUrl: sas, blobPrefix: 'input/' }],
      outputFiles: [{ filePattern: 'out.txt', destination: { container: { containerUrl: sas, path: 'results/out.txt' } }, uploadOptions: { uploadCondition: 'tasksuccess' } }],
    });
    const containerUrl = sas.split('?')[0]!;
    await waitFor('the listing to be retried', () =>
      agentLog().includes(`downloading ${containerUrl} failed (connection refused (ECONNREFUSED)); attempt 2 of 12`) ? true : undefined,
    );
    await restartB();
    await waitFor('the task to run', () => (gate.pids('upload').length === 1 ? true : undefined), 20_000);

    assert.equal(await b.stop(), 0);
    gate.open('upload');
    await waitFor('the upload to be retried', () =>
      agentLog().includes(`uploading to ${containerUrl}/results/out.txt failed (connection refused (ECONNREFUSED)); attempt 2 of 12`) ? true : undefined,
    );
    await restartB();
    const task = await waitForTask(client, jobId, 'across');
    assert.equal(task.executionInfo?.result, 'success', JSON.stringify(task.executionInfo?.failureInfo));
    assert.equal(task.executionInfo?.retryCount, 0);
    const uploaded = await b.blobService().getContainerClient(container.containerName).getBlobClient('results/out.txt').downloadToBuffer();
    assert.equal(uploaded.toString(), 'the input\n');
  });

  it('fails a task at once on a 403 or a 404, as Azure does, without retrying', async () => {
    const container = a.blobService().getContainerClient(uid('denied'));
    await container.create();
    const readOnly = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.add(jobId, {
      id: 'denied',
      commandLine: `/bin/sh -c 'echo x > out.txt'`,
      outputFiles: [{ filePattern: 'out.txt', destination: { container: { containerUrl: readOnly } }, uploadOptions: { uploadCondition: 'tasksuccess' } }],
    });
    await client.task.add(jobId, {
      id: 'missing',
      commandLine: '/bin/true',
      resourceFiles: [{ httpUrl: `${readOnly.split('?')[0]}/nothing.txt?${readOnly.split('?')[1]}`, filePath: 'nothing.txt' }],
    });
    const denied = await waitForTask(client, jobId, 'denied');
    assert.equal(denied.executionInfo?.failureInfo?.code, 'FileUploadMiscError');
    assert.match(denied.executionInfo?.failureInfo?.details?.[0]?.value ?? '', /answered 403 AuthorizationPermissionMismatch$/);
    const missing = await waitForTask(client, jobId, 'missing');
    assert.equal(missing.executionInfo?.failureInfo?.code, 'BlobNotFound');
    assert.doesNotMatch(agentLog(), new RegExp(`${container.containerName}\\S* failed \\(`), 'neither was retried');
  });
});
