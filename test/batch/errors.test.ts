import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { batchErrorOf, batchRequest, type RawRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

const vm = { imageReference: { publisher: 'debian', offer: 'debian-12', sku: '12' }, nodeAgentSKUId: 'batch.node.debian 12' };
const pool = (id: string, extra: object = {}) => ({ id, vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0, ...extra });

/** The error matrix: each request, and the status, code and (some) values Azure answers with. */
describe('Batch errors: status, code and body as Azure answers', () => {
  let kiln: KilnProcess;
  const call = (method: string, path: string, opts?: RawRequest) => batchRequest(kiln.batchUrl, method, path, opts);
  async function expectError(res: Promise<Awaited<ReturnType<typeof call>>>, status: number, code: string, values?: Record<string, string>) {
    const r = await res;
    assert.equal(r.status, status, r.text);
    const err = batchErrorOf(r);
    assert.equal(err.code, code);
    assert.match(err.message.value, /\nRequestId:[0-9a-f-]{36}\nTime:\d{4}-/);
    assert.equal(r.headers['content-type'], 'application/json;odata=minimalmetadata');
    for (const [key, value] of Object.entries(values ?? {})) assert.equal(err.values?.find((v) => v.key === key)?.value, value, `${key} in ${r.text}`);
  }

  before(async () => {
    kiln = await startKiln();
    assert.equal((await call('POST', '/pools', { body: pool('p') })).status, 201);
    assert.equal((await call('POST', '/jobs', { body: { id: 'j', poolInfo: { poolId: 'p' } } })).status, 201);
    assert.equal((await call('POST', '/jobs/j/tasks', { body: { id: 't', commandLine: 'x' } })).status, 201);
  });
  after(async () => {
    await kiln.stop();
  });

  it('not found: pool, job, task, node, unknown path; HEAD of a missing pool', async () => {
    await expectError(call('GET', '/pools/nope'), 404, 'PoolNotFound');
    await expectError(call('GET', '/jobs/nope'), 404, 'JobNotFound');
    await expectError(call('GET', '/jobs/j/tasks/nope'), 404, 'TaskNotFound');
    await expectError(call('GET', '/jobs/nope/tasks/t'), 404, 'JobNotFound');
    await expectError(call('GET', '/pools/p/nodes/tvm-1'), 404, 'NodeNotFound');
    await expectError(call('GET', '/nothing/here'), 404, 'ResourceNotFound');
    await expectError(call('DELETE', '/pools/nope'), 404, 'PoolNotFound');
    await expectError(call('POST', '/jobs/nope/addtaskcollection', { body: { value: [] } }), 404, 'JobNotFound');
    const head = await call('HEAD', '/pools/nope');
    assert.equal(head.status, 404);
    assert.equal(head.text, '');
  });

  it('exists: pool, job, task, case-insensitively', async () => {
    await expectError(call('POST', '/pools', { body: pool('P') }), 409, 'PoolExists');
    await expectError(call('POST', '/jobs', { body: { id: 'J', poolInfo: { poolId: 'p' } } }), 409, 'JobExists');
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: 'T', commandLine: 'x' } }), 409, 'TaskExists');
  });

  it('bad ids', async () => {
    await expectError(call('POST', '/pools', { body: pool('has space') }), 400, 'InvalidPropertyValue', { PropertyName: 'id', PropertyValue: 'has space' });
    await expectError(call('POST', '/jobs', { body: { id: 'x'.repeat(65), poolInfo: { poolId: 'p' } } }), 400, 'InvalidPropertyValue', { PropertyName: 'id' });
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: '', commandLine: 'x' } }), 400, 'InvalidPropertyValue', { PropertyName: 'id' });
  });

  it('missing required properties', async () => {
    await expectError(call('POST', '/pools', { body: { id: 'q', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 } }), 400, 'MissingRequiredProperty', {
      PropertyName: 'vmSize',
    });
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: 'u' } }), 400, 'MissingRequiredProperty', { PropertyName: 'commandLine' });
    await expectError(call('POST', '/pools', { body: pool('q', { virtualMachineConfiguration: { imageReference: {} } }) }), 400, 'MissingRequiredProperty', {
      PropertyName: 'virtualMachineConfiguration.nodeAgentSKUId',
    });
    await expectError(call('POST', '/jobs/j/disable', { body: {} }), 400, 'MissingRequiredProperty', { PropertyName: 'disableTasks' });
    await expectError(call('POST', '/pools', { body: { id: 'q', vmSize: 'standard_a1', virtualMachineConfiguration: vm } }), 400, 'MissingRequiredProperty', {
      PropertyName: 'targetDedicatedNodes',
    });
  });

  it('bad enum values, wrong types, unknown properties, bad JSON', async () => {
    await expectError(
      call('POST', '/jobs/j/tasks', { body: { id: 'e1', commandLine: 'x', userIdentity: { autoUser: { elevationLevel: 'root' } } } }),
      400,
      'InvalidPropertyValue',
      { PropertyName: 'userIdentity.autoUser.elevationLevel', PropertyValue: 'root' },
    );
    await expectError(call('POST', '/jobs/j/disable', { body: { disableTasks: 'later' } }), 400, 'InvalidPropertyValue', { PropertyName: 'disableTasks' });
    await expectError(call('POST', '/pools', { body: pool('q', { vmSize: 'standard_xxl_v99' }) }), 400, 'InvalidPropertyValue', { PropertyName: 'vmSize' });
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: 'e2', commandLine: 'x', requiredSlots: 'two' } }), 400, 'InvalidRequestBody');
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: 'e3', commandLine: 'x', colour: 'red' } }), 400, 'InvalidRequestBody');
    await expectError(call('POST', '/jobs/j/tasks', { body: '{"id": "e4", ' }), 400, 'InvalidRequestBody');
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: 'e5', commandLine: 'x', constraints: { maxWallClockTime: 'an hour' } } }), 400, 'InvalidPropertyValue', {
      PropertyName: 'constraints.maxWallClockTime',
    });
    // Any case in; the API's case out.
    assert.equal(
      (await call('POST', '/jobs/j/tasks', { body: { id: 'e6', commandLine: 'x', userIdentity: { autoUser: { elevationLevel: 'NonAdmin', scope: 'Task' } } } })).status,
      201,
    );
    assert.deepEqual((await call('GET', '/jobs/j/tasks/e6')).json().userIdentity, { autoUser: { elevationLevel: 'nonadmin', scope: 'task' } });
  });

  it('body too large: 413 RequestBodyTooLarge, for a collection and a single request', async () => {
    const value = Array.from({ length: 100 }, (_, i) => ({ id: `big${i}`, commandLine: `echo ${'x'.repeat(11_000)}` }));
    await expectError(call('POST', '/jobs/j/addtaskcollection', { body: { value } }), 413, 'RequestBodyTooLarge');
    await expectError(call('POST', '/jobs/j/tasks', { body: { id: 'huge', commandLine: 'x'.repeat(2 << 20) } }), 413, 'RequestBodyTooLarge');
    // Nothing of a refused collection was added.
    assert.equal((await call('GET', '/jobs/j/tasks/big0')).status, 404);
  });

  it('more than 100 tasks in a collection', async () => {
    const value = Array.from({ length: 101 }, (_, i) => ({ id: `n${i}`, commandLine: 'x' }));
    await expectError(call('POST', '/jobs/j/addtaskcollection', { body: { value } }), 400, 'InvalidPropertyValue', { PropertyName: 'value' });
  });

  it('state conflicts: being deleted, completed, not completed', async () => {
    assert.equal((await call('POST', '/jobs', { body: { id: 'done', poolInfo: { poolId: 'p' } } })).status, 201);
    assert.equal((await call('POST', '/jobs/done/terminate')).status, 202);
    await expectError(call('POST', '/jobs/done/tasks', { body: { id: 'late', commandLine: 'x' } }), 409, 'JobCompleted');
    await expectError(call('POST', '/jobs/done/disable', { body: { disableTasks: 'wait' } }), 409, 'JobCompleted');
    await expectError(call('POST', '/jobs/j/tasks/t/reactivate'), 409, 'TaskNotCompleted');
    await expectError(call('POST', '/pools/p/stopresize'), 409, 'PoolNotResizing');
  });

  it('unsupported verb, bad maxresults, bad $expand', async () => {
    await expectError(call('PUT', '/pools'), 405, 'UnsupportedHttpVerb');
    await expectError(call('GET', '/pools', { query: 'maxresults=5000' }), 400, 'OutOfRangeQueryParameterValue', { QueryParameterName: 'maxresults' });
    await expectError(call('GET', '/pools', { query: 'maxresults=ten' }), 400, 'InvalidQueryParameterValue');
    await expectError(call('GET', '/jobs', { query: '$expand=everything' }), 400, 'InvalidQueryParameterValue', { QueryParameterName: '$expand' });
  });

  it('answers with the exact success codes the SDKs insist on', async () => {
    assert.equal((await call('POST', '/pools/p/resize', { body: { targetDedicatedNodes: 0 } })).status, 202);
    assert.equal((await call('POST', '/pools/p/updateproperties', { body: { certificateReferences: [], applicationPackageReferences: [], metadata: [] } })).status, 204);
    assert.equal((await call('POST', '/jobs/j/tasks/t/terminate')).status, 204);
    assert.equal((await call('DELETE', '/jobs/j/tasks/t')).status, 200);
    assert.equal((await call('POST', '/jobs/j/disable', { body: { disableTasks: 'requeue' } })).status, 202);
    assert.equal((await call('POST', '/jobs/j/enable')).status, 202);
    const created = await call('POST', '/jobs/j/tasks', { body: { id: 'made', commandLine: 'x' } });
    assert.equal(created.status, 201);
    assert.equal(created.headers.dataserviceid, `${kiln.batchUrl}/jobs/j/tasks/made`);
    assert.equal(created.headers.location, `${kiln.batchUrl}/jobs/j/tasks/made`);
    assert.match(String(created.headers.etag), /^0x[0-9A-F]+$/);
    assert.ok(!Number.isNaN(Date.parse(String(created.headers['last-modified']))));
    assert.equal((await call('DELETE', '/jobs/j')).status, 202);
    assert.equal((await call('DELETE', '/pools/p')).status, 202);
  });
});
