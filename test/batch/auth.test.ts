import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { batchStringsToSign, verifyBatchSignature, type BatchSignedRequest } from '../../src/auth/batchSharedKey.js';
import { makeAccount } from '../../src/config/accounts.js';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

// The test vectors of shared/docs/batch-api.md §1.6, computed with both SDKs' own signing code.
const account = makeAccount('testacct', 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=');
const DATE = 'Fri, 17 Feb 2017 00:00:00 GMT';

function signed(method: string, url: string, headers: Record<string, string>): BatchSignedRequest {
  const q = url.indexOf('?');
  const all = Object.entries({ 'ocp-date': DATE, ...headers }).map(([k, v]) => [k.toLowerCase(), v] as [string, string]);
  return {
    method,
    rawPath: q < 0 ? url : url.slice(0, q),
    query: [...new URLSearchParams(q < 0 ? '' : url.slice(q + 1))],
    headers: all,
    header: (name) => all.find(([k]) => k === name)?.[1],
  };
}

const V = 'api-version=2022-10-01.16.0';
const vectors: [string, BatchSignedRequest, string][] = [
  ['GET with a filter, no Content-Type', signed('GET', `/pools?${V}&$filter=state%20eq%20%27active%27&maxresults=10`, {}), 'ESRczrilmDvSoJE88Hoj79TrZAONkCWHkhzJ7MFYfJM='],
  [
    'GET, JS-style Content-Type',
    signed('GET', `/pools?${V}&$filter=state%20eq%20%27active%27&maxresults=10`, { 'Content-Type': 'application/json; charset=utf-8' }),
    'qAQC/O6j0RvXpgdvYP6hceKMdTHXrPLqvd2+v4RIupo=',
  ],
  [
    'POST addtaskcollection',
    signed('POST', `/jobs/job1/addtaskcollection?${V}`, { 'Content-Type': 'application/json; odata=minimalmetadata; charset=utf-8', 'Content-Length': '50' }),
    'Km+k0N52TP4Ukg+dsGjle2zhbZiG5EGdnyQkctRLAqQ=',
  ],
  ['DELETE with Content-Length 0 (Python)', signed('DELETE', `/pools/pool1?${V}`, { 'Content-Length': '0' }), 'zpmPzApI86uFt5iRrMguSMoTzvUjeCgHnX/RGcDgwpY='],
  ['DELETE without Content-Length (JS)', signed('DELETE', `/pools/pool1?${V}`, {}), 'pA7qYHqo7uWJW+s8eMESVAW6KqelOok1f6TDP8B7UlU='],
  ['POST stopresize, no body', signed('POST', `/pools/pool1/stopresize?${V}`, { 'Content-Length': '0' }), '52Guj/VsdvbH5pEEMojnTt8eQS2C6p0GWVh5hCOLRyo='],
];

describe('Batch Shared Key: the documented test vectors', () => {
  for (const [name, req, signature] of vectors) {
    it(name, () => {
      assert.deepEqual(verifyBatchSignature(account, 'testacct', signature, req), { ok: true });
      // One flipped bit is refused.
      const bad = Buffer.from(signature, 'base64');
      bad[0]! ^= 1;
      assert.equal(verifyBatchSignature(account, 'testacct', bad.toString('base64'), req).ok, false);
    });
  }

  it('builds the first string to sign as documented', () => {
    const expected = ['GET', ...Array(11).fill(''), `ocp-date:${DATE}`, '/testacct/pools', "$filter:state eq 'active'", 'api-version:2022-10-01.16.0', 'maxresults:10'].join('\n');
    assert.equal(batchStringsToSign('testacct', vectors[0]![1])[0], expected);
  });

  it('keeps the path percent-encoded', () => {
    const req = signed('GET', `/jobs/j1/tasks/t1/files/wd%2Fout%20file.txt?${V}`, {});
    assert.match(batchStringsToSign('testacct', req)[0]!, /\n\/testacct\/jobs\/j1\/tasks\/t1\/files\/wd%2Fout%20file.txt\n/);
  });
});

describe('Batch Shared Key over HTTP', () => {
  let kiln: KilnProcess;
  before(async () => {
    kiln = await startKiln();
  });
  after(async () => {
    await kiln.stop();
  });

  it('accepts the SDK and answers request-id and the client-request-id it was given', async () => {
    // Echoed when return-client-request-id is true, as Azure does (test/batch/queryRefusals.test.ts: not otherwise).
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools', {
      headers: { 'client-request-id': 'c0ffee00-0000-4000-8000-000000000001', 'return-client-request-id': 'true' },
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(res.headers['client-request-id'], 'c0ffee00-0000-4000-8000-000000000001');
    assert.deepEqual(res.json().value, []);
  });

  it('refuses a wrong key with 403 AuthenticationFailed and the string it signed', async () => {
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools', { key: Buffer.alloc(64, 7).toString('base64') });
    assert.equal(res.status, 403);
    const err = batchErrorOf(res);
    assert.equal(err.code, 'AuthenticationFailed');
    const detail = err.values?.find((v) => v.key === 'AuthenticationErrorDetail')?.value ?? '';
    assert.match(detail, /\/devstoreaccount1\/pools\napi-version:2022-10-01\.16\.0/);
  });

  it('refuses a request without Authorization, and an unknown account', async () => {
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools', { unsigned: true });
    assert.equal(res.status, 403);
    assert.equal(batchErrorOf(res).code, 'AuthenticationFailed');
    const other = await batchRequest(kiln.batchUrl, 'GET', '/pools', { headers: { Authorization: 'SharedKey nosuchaccount:AAAA' }, unsigned: true });
    assert.equal(other.status, 403);
  });

  it('refuses a request dated more than 15 minutes away', async () => {
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools', { headers: { 'ocp-date': new Date(Date.now() - 3600_000).toUTCString() } });
    assert.equal(res.status, 403);
    assert.match(batchErrorOf(res).values!.find((v) => v.key === 'AuthenticationErrorDetail')!.value, /15 minutes/);
  });

  it('needs api-version', async () => {
    const res = await batchRequest(kiln.batchUrl, 'GET', '/pools', { noApiVersion: true });
    assert.equal(res.status, 400);
    assert.equal(batchErrorOf(res).code, 'MissingRequiredQueryParameter');
  });
});
