import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { OPERATION_PARAMETERS } from '../../src/protocol/batch/routes.js';
import { batchErrorOf, batchRequest, type RawRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';
import { addPool, stopKiln, uid, waitForTask } from '../nodes/helpers.js';

// Issue 9, "nothing silently ignored", for query parameters and headers: each operation takes the
// ones its REST spec gives it (src/protocol/batch/parameters.ts, the table in routes.ts), honours
// them or refuses them, and refuses the Batch parameters it does not take.

/** What the SDK's operation specs send, per `METHOD /path`: query parameter and header names, lower-cased. */
function sdkOperations(): Map<string, { query: string[]; headers: string[] }> {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('@azure/batch/package.json')), 'dist-esm/src');
  const names = new Map<string, string>();
  const parameters = fs.readFileSync(path.join(dir, 'models/parameters.js'), 'utf8');
  for (const [, id, serialized] of parameters.matchAll(/export const (\w+) = \{[\s\S]*?serializedName: "([^"]+)"/g)) names.set(id!, serialized!.toLowerCase());
  const ops = new Map<string, { query: string[]; headers: string[] }>();
  for (const file of fs.readdirSync(path.join(dir, 'operations')).filter((f) => f.endsWith('.js'))) {
    const text = fs.readFileSync(path.join(dir, 'operations', file), 'utf8');
    for (const [, spec] of text.matchAll(/OperationSpec = \{([\s\S]*?)\n\};/g)) {
      const route = /path: "([^"]+)"/.exec(spec!)?.[1];
      if (!route || route.startsWith('{nextLink}')) continue;
      const list = (key: string) => [...(new RegExp(`${key}: \\[([^\\]]*)\\]`).exec(spec!)?.[1] ?? '').matchAll(/Parameters\.(\w+)/g)].map(([, id]) => names.get(id!)!);
      ops.set(`${/httpMethod: "(\w+)"/.exec(spec!)![1]} /${route}`, { query: list('queryParameters'), headers: list('headerParameters') });
    }
  }
  return ops;
}

const COMMON_QUERY = ['api-version', 'timeout'];
const COMMON_HEADERS = ['accept-language', 'client-request-id', 'return-client-request-id', 'ocp-date'];

describe('Batch query parameters and headers: honoured or refused', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let nodeId: string;
  const poolId = uid('query');
  const jobId = uid('query-job');
  const call = (method: string, url: string, opts?: RawRequest) => batchRequest(kiln.batchUrl, method, url, opts);
  const refused = async (res: Promise<Awaited<ReturnType<typeof call>>>, status: number, code: string, name?: [key: string, value: string]) => {
    const r = await res;
    assert.equal(r.status, status, r.text);
    const error = batchErrorOf(r);
    assert.equal(error.code, code, r.text);
    if (name) assert.equal(error.values?.find((v) => v.key === name[0])?.value, name[1], r.text);
    return error;
  };
  const fileUrl = `/jobs/${jobId}/tasks/writer/files/wd%2Fout.txt`;

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    [{ id: nodeId }] = (await addPool(client, poolId, 1)) as [{ id: string }];
    await client.job.add({ id: jobId, poolInfo: { poolId }, jobPreparationTask: { commandLine: '/bin/true' } });
    await client.task.add(jobId, { id: 'writer', commandLine: `/bin/sh -c 'printf 0123456789 > out.txt'` });
    await waitForTask(client, jobId, 'writer');
  });
  after(async () => {
    await stopKiln(kiln);
  });

  it('declares for every operation the parameters and headers @azure/batch sends to it', () => {
    const sdk = sdkOperations();
    assert.ok(sdk.size > 60, 'the SDK operations were found');
    for (const [op, { query, headers }] of sdk) {
      const declared = OPERATION_PARAMETERS.get(op);
      assert.ok(declared, `${op} is routed`);
      for (const name of query) assert.ok(COMMON_QUERY.includes(name) || declared.query.has(name), `${op} takes ${name}`);
      for (const name of headers) assert.ok(COMMON_HEADERS.includes(name) || declared.headers.has(name as never), `${op} takes the header ${name}`);
      // And nothing the 2022-10-01 SDK does not send, but `force` (2023-11-01.18.0 and later) and paging's $skiptoken.
      for (const name of declared.query) assert.ok(query.includes(name) || name === 'force' || name === '$skiptoken', `${op}: ${name} is the spec's`);
      for (const name of declared.headers) assert.ok(headers.includes(name), `${op}: the header ${name} is the spec's`);
    }
  });

  it('refuses $expand=stats through the SDK: Kiln keeps no statistics', async () => {
    const noStats = (e: { statusCode?: number; code?: string; body?: { values?: { key: string; value: string }[] }; message?: unknown }) => {
      assert.equal(e.statusCode, 400);
      assert.equal(e.code, 'UnsupportedQueryParameter');
      assert.equal(e.body?.values?.find((v) => v.key === 'QueryParameterName')?.value, '$expand');
      assert.match(JSON.stringify(e.message), /Kiln does not support/);
      return true;
    };
    await assert.rejects(client.pool.get(poolId, { poolGetOptions: { expand: 'stats' } }), noStats);
    await assert.rejects(client.pool.list({ poolListOptions: { expand: 'stats' } }), noStats);
    await assert.rejects(client.job.get(jobId, { jobGetOptions: { expand: 'stats' } }), noStats);
    await assert.rejects(client.job.list({ jobListOptions: { expand: 'stats' } }), noStats);
    await assert.rejects(client.task.get(jobId, 'writer', { taskGetOptions: { expand: 'stats' } }), noStats);
    await assert.rejects(client.task.list(jobId, { taskListOptions: { expand: 'stats' } }), noStats);
    // An empty $expand asks for nothing; a value the API does not have is invalid, as on Azure.
    assert.equal((await call('GET', `/pools/${poolId}`, { query: '$expand=' })).status, 200);
    await refused(call('GET', '/jobs', { query: '$expand=everything' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', '$expand']);
  });

  it('refuses OData options and Batch parameters an operation does not take; ignores names no Batch API has', async () => {
    await refused(call('GET', '/pools', { query: '$top=1' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', '$top']);
    await refused(call('GET', '/pools', { query: '$orderby=id' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', '$orderby']);
    await refused(call('GET', `/pools/${poolId}/nodes`, { query: '$expand=stats' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', '$expand']);
    await refused(call('GET', `/pools/${poolId}`, { query: '$filter=id%20eq%20%27x%27' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', '$filter']);
    await refused(call('GET', `/pools/${poolId}`, { query: 'maxresults=1' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', 'maxresults']);
    await refused(call('GET', `/jobs/${jobId}/taskcounts`, { query: '$select=active' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', '$select']);
    await refused(call('GET', '/supportedimages', { query: '$select=osType' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', '$select']);
    const ignored = await call('GET', '/pools', { query: 'cachebuster=123' });
    assert.equal(ignored.status, 200, ignored.text);
    assert.deepEqual(
      (ignored.json().value as { id: string }[]).map((p) => p.id),
      [poolId],
    );
  });

  it('refuses force=true on delete and terminate (2023-11-01 and later) and accepts force=false', async () => {
    const doomed = uid('doomed');
    await client.job.add({ id: doomed, poolInfo: { poolId } });
    await refused(call('POST', `/jobs/${doomed}/terminate`, { query: 'force=true' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', 'force']);
    await refused(call('DELETE', `/jobs/${doomed}`, { query: 'force=TRUE' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', 'force']);
    await refused(call('DELETE', `/jobs/${doomed}`, { query: 'force=maybe' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', 'force']);
    assert.equal((await client.job.get(doomed)).state, 'active', 'a refused request changed nothing');
    assert.equal((await call('DELETE', `/jobs/${doomed}`, { query: 'force=false' })).status, 202);
    await refused(call('POST', '/jobschedules/none/terminate', { query: 'force=true' }), 400, 'UnsupportedQueryParameter', ['QueryParameterName', 'force']);
  });

  it('checks recursive, timeout and the list parameters of lists with no items', async () => {
    await refused(call('GET', `/jobs/${jobId}/tasks/writer/files`, { query: 'recursive=yes' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', 'recursive']);
    await refused(call('GET', '/pools', { query: 'timeout=soon' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', 'timeout']);
    // Azure takes a timeout over 30 as 30; Kiln answers within any.
    assert.equal((await call('GET', '/pools', { query: 'timeout=120' })).status, 200);
    await refused(call('GET', '/poolusagemetrics', { query: '$filter=poolId%20eq' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', '$filter']);
    await refused(call('GET', '/poolusagemetrics', { query: 'maxresults=0' }), 400, 'OutOfRangeQueryParameterValue', ['QueryParameterName', 'maxresults']);
    await refused(call('GET', '/poolusagemetrics', { query: 'starttime=yesterday' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', 'starttime']);
    await refused(call('GET', '/certificates', { query: '$filter=state%20eq' }), 400, 'InvalidQueryParameterValue', ['QueryParameterName', '$filter']);
    await refused(call('GET', '/applications', { query: 'maxresults=1001' }), 400, 'OutOfRangeQueryParameterValue', ['QueryParameterName', 'maxresults']);
    assert.deepEqual([...(await client.pool.listUsageMetrics({ poolListUsageMetricsOptions: { filter: "poolId eq 'x'", maxResults: 5 } }))], []);
  });

  it('honours $select on the job preparation and release status list', async () => {
    const full = await client.job.listPreparationAndReleaseTaskStatus(jobId);
    assert.equal(full.length, 1);
    assert.equal(full[0]!.jobPreparationTaskExecutionInfo?.state, 'completed');
    const selected = await call('GET', `/jobs/${jobId}/jobpreparationandreleasetaskstatus`, { query: '$select=nodeId,poolId' });
    assert.equal(selected.status, 200, selected.text);
    assert.deepEqual(selected.json().value, [{ nodeId, poolId }]);
  });

  it('echoes client-request-id only when return-client-request-id is true, and refuses a value that is not a boolean', async () => {
    const id = 'c0ffee00-0000-4000-8000-000000000002';
    const asked = await client.pool.list({ poolListOptions: { clientRequestId: id, returnClientRequestId: true } });
    assert.equal(asked._response.headers.get('client-request-id'), id);
    const notAsked = await client.pool.list({ poolListOptions: { clientRequestId: id, returnClientRequestId: false } });
    assert.equal(notAsked._response.headers.get('client-request-id'), undefined);
    const plain = await call('GET', '/pools', { headers: { 'client-request-id': id } });
    assert.equal(plain.headers['client-request-id'], undefined);
    // An error answer echoes it too, when asked.
    const missing = await call('GET', '/pools/none', { headers: { 'client-request-id': id, 'return-client-request-id': 'True' } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['client-request-id'], id);
    await refused(call('GET', '/pools', { headers: { 'return-client-request-id': 'yes' } }), 400, 'InvalidHeaderValue', ['HeaderName', 'return-client-request-id']);
  });

  it('honours ocp-range and the date conditions of file GET and HEAD, and refuses a range it cannot read', async () => {
    const part = await client.file.getFromTask(jobId, 'writer', 'wd/out.txt', { fileGetFromTaskOptions: { ocpRange: 'bytes=2-4' } });
    const chunks: Buffer[] = [];
    for await (const chunk of part.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
    assert.equal(Buffer.concat(chunks).toString(), '234');
    assert.equal((await call('GET', fileUrl, { headers: { 'ocp-range': 'bytes=7-' } })).text, '789');
    await refused(call('GET', fileUrl, { headers: { 'ocp-range': 'bytes=-3' } }), 400, 'InvalidHeaderValue', ['HeaderName', 'ocp-range']);
    await refused(call('GET', fileUrl, { headers: { 'ocp-range': 'lines=1-2' } }), 400, 'InvalidHeaderValue', ['HeaderName', 'ocp-range']);
    await refused(call('GET', fileUrl, { headers: { 'ocp-range': 'bytes=5-2' } }), 400, 'InvalidHeaderValue', ['HeaderName', 'ocp-range']);

    const past = new Date(Date.now() - 3_600_000).toUTCString();
    const future = new Date(Date.now() + 3_600_000).toUTCString();
    await assert.rejects(
      client.file.getPropertiesFromTask(jobId, 'writer', 'wd/out.txt', { fileGetPropertiesFromTaskOptions: { ifUnmodifiedSince: new Date(past) } }),
      (e: { statusCode?: number }) => e.statusCode === 412,
    );
    await refused(call('GET', fileUrl, { headers: { 'If-Unmodified-Since': past } }), 412, 'ConditionNotMet');
    assert.equal((await call('GET', fileUrl, { headers: { 'If-Unmodified-Since': future } })).text, '0123456789');
    assert.equal((await call('HEAD', fileUrl, { headers: { 'If-Modified-Since': future } })).status, 304);
    assert.equal((await call('GET', fileUrl, { headers: { 'If-Modified-Since': future } })).status, 304);
    const head = await call('HEAD', fileUrl, { headers: { 'If-Modified-Since': past } });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '10');
    await refused(call('GET', `/pools/${poolId}/nodes/${nodeId}/files/startup%2Fstdout.txt`, { headers: { 'If-Modified-Since': 'not a date' } }), 400, 'InvalidHeaderValue', [
      'HeaderName',
      'if-modified-since',
    ]);
    // A HEAD answer has no body: the status says it.
    assert.equal((await call('HEAD', fileUrl, { headers: { 'If-Unmodified-Since': 'not a date' } })).status, 400);
  });

  it('evaluates the conditions of removenodes, and no conditions where the operation takes none', async () => {
    const pool = await client.pool.get(poolId);
    await assert.rejects(
      client.pool.removeNodes(poolId, { nodeList: [nodeId] }, { poolRemoveNodesOptions: { ifMatch: '"0x1"' } }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 412 && e.code === 'ConditionNotMet',
    );
    assert.equal((await client.computeNode.get(poolId, nodeId)).state, 'idle', 'the node was not removed');
    assert.equal((await client.pool.get(poolId)).eTag, pool.eTag);
    // GET of a node takes no conditional headers (the spec gives it none): answered whatever they say.
    const node = await call('GET', `/pools/${poolId}/nodes/${nodeId}`, { headers: { 'If-None-Match': '*' } });
    assert.equal(node.status, 200, node.text);
    assert.equal(node.json().id, nodeId);
  });
});
