import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BatchSharedKeyCredentials } from '@azure/batch';
import { WebResource } from '@azure/ms-rest-js';
import { BlobSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { batchRequest, type RawResponse } from '../helpers/batchHttp.js';
import { sharedKeyFetch } from '../helpers/sharedKeyFetch.js';
import { countExtents, KEY, startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { stopKiln, uid, vm, waitForNodes, waitForTask, waitingReason } from '../nodes/helpers.js';
import { rawConnection, signedBatchHead, trickle } from './edgeHelpers.js';

// Short edge clocks, so that each timeout shows within a second or two.
const HEADER_TIMEOUT_MS = 1000;
const BODY_IDLE_TIMEOUT_MS = 1000;
const SLACK_MS = 3000;

const code = (res: RawResponse): string | undefined => (res.text ? (res.json() as { code?: string }).code : undefined);

/** A SAS URL that may write one blob: raw uploads need no signature over their bytes. */
async function writableBlobUrl(container: ContainerClient, name: string): Promise<URL> {
  const url = await container.getBlockBlobClient(name).generateSasUrl({ permissions: BlobSASPermissions.parse('rcw'), expiresOn: new Date(Date.now() + 600_000) });
  return new URL(url);
}

const putHead = (url: URL, length: number, extra = ''): string =>
  `PUT ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-ms-blob-type: BlockBlob\r\nx-ms-version: 2021-08-06\r\nContent-Length: ${length}\r\n${extra}\r\n`;

const poolBody = (extra: string) => `{"id":"p-${Date.now()}","vmSize":"standard_d2s_v3",${extra}"virtualMachineConfiguration":${JSON.stringify(vm)},"targetDedicatedNodes":0}`;

describe('the HTTP edge', () => {
  let kiln: KilnProcess;
  let container: ContainerClient;
  const jobId = uid('edge-job');
  before(async () => {
    kiln = await startKiln({ extraArgs: ['--header-timeout', String(HEADER_TIMEOUT_MS), '--body-idle-timeout', String(BODY_IDLE_TIMEOUT_MS)] });
    container = kiln.blobService().getContainerClient('edge');
    await container.create();
    await kiln.batchClient().job.add({ id: jobId, poolInfo: { poolId: 'no-such-pool' }, usesTaskDependencies: true });
  });
  after(async () => {
    await stopKiln(kiln);
  });

  /** The service still answers, at once. */
  async function assertAlive(): Promise<void> {
    const started = Date.now();
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools');
    assert.equal(res.status, 200);
    assert.ok((await container.getProperties()).etag);
    assert.ok(Date.now() - started < 2000, 'answered promptly');
    assert.equal(kiln.child.exitCode, null, 'the server lives');
  }

  it('JSON keys named like Object.prototype members are unknown properties: 400 InvalidRequestBody, not a reset', async () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await batchRequest(kiln.batchUrl, 'POST', '/pools', { body: poolBody(`"${key}":{"a":1},`) });
      assert.equal(res.status, 400, `${key}: ${res.text}`);
      assert.equal(code(res), 'InvalidRequestBody', key);
      // Nested, inside a known object, the same.
      const nested = await batchRequest(kiln.batchUrl, 'POST', `/jobs/${jobId}/tasks`, {
        body: `{"id":"t-${key.replace(/_/g, '')}","commandLine":"true","constraints":{"${key}":1}}`,
      });
      assert.equal(nested.status, 400, `${key} nested: ${nested.text}`);
      assert.equal(code(nested), 'InvalidRequestBody');
    }
    const filter = await batchRequest(kiln.batchUrl, 'GET', '/pools', { query: `$filter=${encodeURIComponent("constructor eq 'x'")}` });
    assert.equal(filter.status, 400);
    assert.equal(code(filter), 'InvalidQueryParameterValue');
    await assertAlive();
  });

  it('metadata named x-ms-meta-constructor or x-ms-meta-__proto__ is stored and read back as on Azure', async () => {
    // Raw requests: the SDK itself drops a metadata entry named __proto__ (it assigns it).
    const put = await sharedKeyFetch(`${kiln.blobUrl}/edge/meta.txt`, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-meta-constructor': 'c', 'x-ms-meta-__proto__': 'p', 'x-ms-meta-toString': 't' },
      body: Buffer.from('m'),
    });
    assert.equal(put.status, 201);
    assert.equal((await container.getBlockBlobClient('meta.txt').getProperties()).metadata?.['constructor'], 'c');
    const raw = await sharedKeyFetch(`${kiln.blobUrl}/edge/meta.txt`, { method: 'HEAD' });
    assert.equal(raw.status, 200);
    const meta = [...raw.headers].filter(([name]) => name.startsWith('x-ms-meta-')).sort();
    assert.deepEqual(meta, [
      ['x-ms-meta-__proto__', 'p'],
      ['x-ms-meta-constructor', 'c'],
      ['x-ms-meta-tostring', 't'],
    ]);
  });

  it('a deeply nested $filter is 400 InvalidQueryParameterValue; a long flat one works', async () => {
    const deep = `${'('.repeat(5000)}id eq 'a'${')'.repeat(5000)}`;
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools', { query: `$filter=${encodeURIComponent(deep)}` });
    assert.equal(res.status, 400, res.text);
    assert.equal(code(res), 'InvalidQueryParameterValue');
    const nots = await batchRequest(kiln.batchUrl, 'GET', '/pools', { query: `$filter=${encodeURIComponent(`${'not '.repeat(2000)}id eq 'a'`)}` });
    assert.equal(nots.status, 400);
    const fine = await batchRequest(kiln.batchUrl, 'GET', '/pools', { query: `$filter=${encodeURIComponent(`${'('.repeat(50)}id eq 'a'${')'.repeat(50)}`)}` });
    assert.equal(fine.status, 200, fine.text);
    // Past SQLite's expression depth, a long chain is evaluated on the documents: still an answer.
    const chain = await batchRequest(kiln.batchUrl, 'GET', `/jobs/${jobId}/tasks`, { query: `$filter=${Array(600).fill("id%20ne'x'").join('and%20')}` });
    assert.equal(chain.status, 200, chain.text.slice(0, 300));
  });

  it('a signature with junk after its = padding is refused (Batch and Blob Shared Key, SAS)', async () => {
    // Sign correctly, then append junk to the signature the SDK computed.
    const url = `${kiln.batchUrl}/pools?api-version=2022-10-01.16.0`;
    const resource = new WebResource(url, 'GET');
    await new BatchSharedKeyCredentials('devstoreaccount1', KEY).signRequest(resource);
    const headers = resource.headers.rawHeaders();
    const good = await fetch(url, { headers });
    assert.equal(good.status, 200);
    for (const junk of ['AAAA', '=', 'x', '==']) {
      const bad = await fetch(url, { headers: { ...headers, authorization: `${headers['authorization']}${junk}` } });
      assert.equal(bad.status, 403, `batch signature + ${junk}`);
      assert.equal(((await bad.json()) as { code: string }).code, 'AuthenticationFailed');
    }
    // Blob: a SAS whose sig has junk after its padding.
    const sas = await writableBlobUrl(container, 'meta.txt');
    const sig = sas.searchParams.get('sig')!;
    assert.equal((await fetch(sas)).status, 200);
    sas.searchParams.set('sig', `${sig}AAAA`);
    const badSas = await fetch(sas);
    assert.equal(badSas.status, 403);
    assert.equal(badSas.headers.get('x-ms-error-code'), 'AuthenticationFailed');
    const shared = await sharedKeyFetch(`${kiln.blobUrl}/edge?restype=container`);
    assert.equal(shared.status, 200);
  });

  it('a Batch body over 1 MiB is answered 413 RequestBodyTooLarge, even while 100 MiB are still being sent', async () => {
    const big = 100 * 1024 * 1024;
    const path = `/jobs/${jobId}/tasks?api-version=2022-10-01.16.0`;
    const head = await signedBatchHead(kiln.batchUrl, 'POST', path, { 'Content-Type': 'application/json', 'Content-Length': String(big) });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const answer = await rawConnection(kiln.batchPort, head, { deadlineMs: 10_000, stopAtAnswer: true, more: (s) => trickle(s, chunk, 1) });
    assert.equal(answer.status, 413, answer.text.slice(0, 200));
    assert.match(answer.text, /RequestBodyTooLarge/);
    // Chunked, with no length to go by: refused once 1 MiB has arrived (PATCH: the SDK signs POST as if Content-Length were 0).
    const chunked = await signedBatchHead(kiln.batchUrl, 'PATCH', `/jobs/${jobId}?api-version=2022-10-01.16.0`, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
    });
    const piece = Buffer.concat([Buffer.from(`${(64 * 1024).toString(16)}\r\n`), Buffer.alloc(64 * 1024, 0x20), Buffer.from('\r\n')]);
    const chunkedAnswer = await rawConnection(kiln.batchPort, chunked, { deadlineMs: 10_000, stopAtAnswer: true, more: (s) => trickle(s, piece, 1) });
    assert.equal(chunkedAnswer.status, 413, chunkedAnswer.text.slice(0, 200));
    // A container ACL body over its limit: the Blob service's 413.
    const acl = await sharedKeyFetch(`${kiln.blobUrl}/edge?restype=container&comp=acl`, { method: 'PUT', body: Buffer.alloc(200 * 1024, 0x20) });
    assert.equal(acl.status, 413);
    assert.equal(acl.headers.get('x-ms-error-code'), 'RequestBodyTooLarge');
    await assertAlive();
  });

  it('malformed requests are 400 (431 for an oversized head), never a silent reset', async () => {
    for (const bad of [
      'GARBAGE\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'GET /\0 HTTP/1.1\r\n\r\n',
    ]) {
      for (const port of [kiln.batchPort, kiln.blobPort]) {
        const answer = await rawConnection(port, bad, { deadlineMs: 5000, stopAtAnswer: true });
        assert.equal(answer.status, 400, `${JSON.stringify(bad)} on ${port}: ${answer.text}`);
      }
    }
    const longUrl = await rawConnection(kiln.batchPort, `GET /pools?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, { deadlineMs: 5000, stopAtAnswer: true });
    assert.equal(longUrl.status, 431);
    await assertAlive();
  });

  it('slowloris and blank-line connections are closed after the header timeout; the service answers meanwhile', async () => {
    const connections = [
      ...Array.from({ length: 100 }, () =>
        rawConnection(kiln.batchPort, 'GET /pools HTTP/1.1\r\nHost: x\r\n', { deadlineMs: HEADER_TIMEOUT_MS + SLACK_MS, more: (s) => trickle(s, 'X-a: b\r\n', 200) }),
      ),
      ...Array.from({ length: 50 }, () => rawConnection(kiln.blobPort, '\r\n', { deadlineMs: HEADER_TIMEOUT_MS + SLACK_MS, more: (s) => trickle(s, '\r\n', 100) })),
      rawConnection(kiln.batchPort, '', { deadlineMs: HEADER_TIMEOUT_MS + SLACK_MS }),
    ];
    await assertAlive();
    const answers = await Promise.all(connections);
    assert.equal(answers.filter((a) => !a.closed).length, 0, 'every connection that never completed a head was closed');
    assert.ok(
      answers.every((a) => a.closedAfterMs! >= HEADER_TIMEOUT_MS - 100),
      'none before its time',
    );
  });

  it('a stalled body is cut after the idle timeout; a slow, steady one of longer total time is not', async () => {
    const stalled = await writableBlobUrl(container, 'stalled.bin');
    const cut = await rawConnection(kiln.blobPort, putHead(stalled, 1000) + 'x'.repeat(10), { deadlineMs: BODY_IDLE_TIMEOUT_MS + SLACK_MS });
    assert.ok(cut.closed, 'the stalled upload was cut');
    assert.ok(cut.status === undefined || cut.status === 408, cut.text);
    const steady = await writableBlobUrl(container, 'steady.bin');
    const pieces = 12;
    const answer = await rawConnection(kiln.blobPort, putHead(steady, pieces * 10), {
      deadlineMs: 15_000,
      stopAtAnswer: true,
      // 12 pieces 300 ms apart: 3.6 s in all, three times the idle timeout, never idle that long.
      more: (s) => trickle(s, '0123456789', 300, pieces),
    });
    assert.equal(answer.status, 201, answer.text);
    assert.equal((await container.getBlockBlobClient('steady.bin').getProperties()).contentLength, pieces * 10);
  });

  it("the timeouts do not cut an agent's command stream: the node stays joined and runs a task afterwards", async () => {
    const client = kiln.batchClient();
    const poolId = uid('edge-pool');
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1 });
    const [node] = await waitForNodes(client, poolId, 1);
    // A node joins again (a new lastBootTime) whenever its command stream is cut.
    const bootedAt = node!.lastBootTime!.toISOString();
    // Watch the node for four header timeouts and four body-idle timeouts: it never leaves, never rejoins.
    const until = Date.now() + 4 * Math.max(HEADER_TIMEOUT_MS, BODY_IDLE_TIMEOUT_MS);
    await waitFor(
      'the watch to end',
      async () => {
        const now = await client.computeNode.get(poolId, node!.id!);
        assert.equal(now.state, 'idle');
        assert.equal(now.lastBootTime?.toISOString(), bootedAt, 'the agent did not have to join again');
        return Date.now() > until ? true : undefined;
      },
      30_000,
    );
    const job = uid('edge-stream-job');
    await client.job.add({ id: job, poolInfo: { poolId } });
    await client.task.add(job, { id: 't', commandLine: '/bin/true' });
    const task = await waitForTask(client, job, 't', 'completed', 20_000);
    assert.equal(task.executionInfo?.exitCode, 0);
    assert.equal(task.nodeInfo?.nodeId, node!.id);
    assert.equal((await client.computeNode.get(poolId, node!.id!)).lastBootTime?.toISOString(), bootedAt);
  });

  it('NUL bytes, unpaired surrogates and = in variable names are refused at the API: 400 InvalidPropertyValue', async () => {
    const cases: [string, string][] = [
      ['commandLine NUL', '{"id":"n1","commandLine":"echo a\\u0000b"}'],
      ['environment value NUL', '{"id":"n2","commandLine":"true","environmentSettings":[{"name":"A","value":"x\\u0000y"}]}'],
      ['environment name NUL', '{"id":"n3","commandLine":"true","environmentSettings":[{"name":"A\\u0000B","value":"x"}]}'],
      ['environment name =', '{"id":"n4","commandLine":"true","environmentSettings":[{"name":"A=B","value":"x"}]}'],
      ['lone high surrogate', '{"id":"n5","commandLine":"echo \\ud800"}'],
      ['lone low surrogate', '{"id":"n6","commandLine":"true","environmentSettings":[{"name":"A","value":"\\udc00"}]}'],
      ['resource file path NUL', '{"id":"n7","commandLine":"true","resourceFiles":[{"httpUrl":"http://x/y","filePath":"a\\u0000b"}]}'],
      ['range past Int32', '{"id":"n8","commandLine":"true","dependsOn":{"taskIdRanges":[{"start":0,"end":2147483648}]}}'],
    ];
    for (const [what, body] of cases) {
      const res = await batchRequest(kiln.batchUrl, 'POST', `/jobs/${jobId}/tasks`, { body });
      assert.equal(res.status, 400, `${what}: ${res.text}`);
      assert.equal(code(res), 'InvalidPropertyValue', what);
    }
    // Job metadata and a pool's start task, the same rule.
    const job = await batchRequest(kiln.batchUrl, 'POST', '/jobs', { body: `{"id":"j-nul","poolInfo":{"poolId":"p"},"metadata":[{"name":"a","value":"\\u0000"}]}` });
    assert.equal(code(job), 'InvalidPropertyValue');
    const pool = await batchRequest(kiln.batchUrl, 'POST', '/pools', { body: poolBody('"startTask":{"commandLine":"a\\u0000"},') });
    assert.equal(code(pool), 'InvalidPropertyValue');
    // A paired surrogate (an emoji) is text like any other.
    const emoji = await batchRequest(kiln.batchUrl, 'POST', `/jobs/${jobId}/tasks`, { body: '{"id":"emoji","commandLine":"echo \\ud83d\\ude00"}' });
    assert.equal(emoji.status, 201, emoji.text);
  });
});

describe('a task that depends on a range of a billion ids', () => {
  it('is accepted as on Azure, waits without the scheduler expanding the range, and survives a restart', async () => {
    let kiln = await startKiln();
    const client = kiln.batchClient();
    const poolId = uid('range-pool');
    const jobId = uid('range-job');
    try {
      await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1 });
      await waitForNodes(client, poolId, 1);
      await client.job.add({ id: jobId, poolInfo: { poolId }, usesTaskDependencies: true });
      const huge = await batchRequest(kiln.batchUrl, 'POST', `/jobs/${jobId}/tasks`, {
        body: {
          id: 'huge',
          commandLine: 'true',
          dependsOn: {
            taskIdRanges: [
              { start: 0, end: 1_000_000_000 },
              { start: 5, end: 2_147_483_647 },
            ],
          },
        },
      });
      assert.equal(huge.status, 201, huge.text);
      // Other work runs meanwhile: tasks 0 and 1, and one that depends on them by range.
      await client.task.addCollection(jobId, [
        { id: '0', commandLine: 'true' },
        { id: '1', commandLine: 'true' },
        { id: 'after', commandLine: 'true', dependsOn: { taskIdRanges: [{ start: 0, end: 1 }] } },
      ]);
      const done = await waitForTask(client, jobId, 'after', 'completed', 20_000);
      assert.equal(done.executionInfo?.result, 'success');
      const started = Date.now();
      assert.equal(await waitingReason(kiln, jobId, 'huge'), 'WaitingForDependencies: task 2 does not exist yet.');
      assert.ok(Date.now() - started < 1000, 'the waiting reason is answered at once');
      // Stored, it does not stop the server from starting again (the stored task is evaluated on every pass).
      await kiln.stop();
      kiln = await startKiln({ dataDir: kiln.dataDir, nodesDir: kiln.nodesDir });
      const again = kiln.batchClient();
      await again.task.add(jobId, { id: 'later', commandLine: 'true' });
      assert.equal((await waitForTask(again, jobId, 'later', 'completed', 20_000)).executionInfo?.result, 'success');
      assert.equal((await again.task.get(jobId, 'huge')).state, 'active');
    } finally {
      await stopKiln(kiln);
    }
  });
});

describe('SIGTERM', () => {
  it('drains the request in flight (it completes) and answers new ones 503 ServerBusy meanwhile', async () => {
    const kiln = await startKiln();
    try {
      const container = kiln.blobService().getContainerClient('drain');
      await container.create();
      const url = await writableBlobUrl(container, 'inflight.bin');
      const extentsBefore = countExtents(kiln.dataDir);
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      // Over the inline limit, so that it streams to an extent file: its first half now, the rest later.
      const half = 'a'.repeat(100 * 1024);
      const upload = rawConnection(kiln.blobPort, putHead(url, 2 * half.length) + half, {
        deadlineMs: 15_000,
        stopAtAnswer: true,
        more: (s) => void released.then(() => s.write(half.replace(/a/g, 'b'))),
      });
      // The upload is in flight once Kiln has opened its extent file.
      await waitFor('the upload to be in flight', () => (countExtents(kiln.dataDir) > extentsBefore ? true : undefined));
      kiln.child.kill('SIGTERM');
      await waitFor('shutdown to begin', () => (kiln.output().includes('SIGTERM: shutting down') ? true : undefined));
      const busyBlob = await fetch(`${kiln.blobUrl}/drain?restype=container`);
      assert.equal(busyBlob.status, 503);
      assert.equal(busyBlob.headers.get('x-ms-error-code'), 'ServerBusy');
      const busyBatch = await batchRequest(kiln.batchUrl, 'GET', '/pools');
      assert.equal(busyBatch.status, 503);
      assert.equal(code(busyBatch), 'ServerBusy');
      release();
      const answer = await upload;
      assert.equal(answer.status, 201, answer.text);
      const code0 = await new Promise<number | null>((resolve) => (kiln.child.exitCode !== null ? resolve(kiln.child.exitCode) : kiln.child.once('exit', resolve)));
      assert.equal(code0, 0);
      // The drained upload is stored: a new Kiln on the same data reads it back.
      const next = await startKiln({ dataDir: kiln.dataDir, nodesDir: kiln.nodesDir });
      try {
        const body = await next.blobService().getContainerClient('drain').getBlockBlobClient('inflight.bin').downloadToBuffer();
        assert.equal(body.toString(), `${half}${half.replace(/a/g, 'b')}`);
      } finally {
        await stopKiln(next);
      }
    } finally {
      await kiln.stop();
    }
  });
});
