import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient, BatchServiceModels } from '@azure/batch';
import { MODELS } from '../../src/domain/batch/schema/models.generated.js';
import type { PropType } from '../../src/domain/batch/schema/types.js';
import { UNSUPPORTED_PROPERTIES, type UnsupportedProperty } from '../../src/domain/batch/unsupported.js';
import { OPERATIONS } from '../../src/protocol/batch/routes.js';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, stopKiln, uid, vm, waitForTask } from '../nodes/helpers.js';

// Issue 9, "nothing silently ignored": what Kiln does not implement is refused, never stored and
// ignored. Every entry of the table in src/domain/batch/unsupported.ts is sent through @azure/batch.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Body = { [key: string]: Json };

/** A value of a property's type that asks for something: a model gets its required properties (or its first one). */
function sample(type: PropType, entry?: UnsupportedProperty): Json {
  const accepted = (v: Json) => (entry?.accepts ?? []).some((a) => String(a).toLowerCase() === String(v).toLowerCase());
  if (typeof type === 'string') {
    if (type === 'boolean') return !accepted(true);
    if (type === 'number') return 1;
    if (type === 'duration') return 'PT1H';
    if (type === 'datetime') return '2030-01-01T00:00:00Z';
    return 'x';
  }
  if ('enum' in type) return type.enum.find((v) => !accepted(v))!;
  if ('array' in type) return [sample(type.array)];
  const model = MODELS[type.model]!;
  const names = Object.keys(model).filter((n) => model[n]!.required);
  const body: Body = {};
  for (const name of names.length > 0 ? names : [Object.keys(model)[0]!]) body[name] = sample(model[name]!.t);
  return body;
}

/** The SDK's error: @azure/batch gives the BatchError's message as the {lang, value} object it parsed. */
interface SdkError {
  statusCode?: number;
  code?: string;
  message?: string | { value?: string };
  body?: { values?: { key: string; value: string }[] };
}
const messageOf = (e: SdkError): string => (typeof e.message === 'string' ? e.message : (e.message?.value ?? ''));

const valueFor = (entry: UnsupportedProperty): Json => {
  const spec = MODELS[entry.model]?.[entry.property];
  // A property of a newer API than Kiln's models: any non-empty object asks for something.
  return spec ? sample(spec.t, entry) : { setting: 'x' };
};

describe('Batch refuses what Kiln does not implement', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let nodeId: string;
  const poolId = uid('refusals');
  const jobId = uid('refusals-job');
  const emptyPool = uid('empty');
  const basePool = (id: string): Body => ({ id, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
  const sdkPool = (id: string) => basePool(id) as unknown as BatchServiceModels.PoolAddParameter;
  const taskLike = (extra: Body): Body => ({ commandLine: '/bin/true', ...extra });

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    [{ id: nodeId }] = (await addPool(client, poolId, 1)) as [{ id: string }];
    await client.pool.add(basePool(emptyPool) as never);
    await client.job.add({ id: jobId, poolInfo: { poolId } });
  });
  after(async () => {
    await stopKiln(kiln);
  });

  /**
   * Where each model of the table sits in a request: the SDK call that sends it, and the path of
   * the property in the body. `sdk` false: the SDK (API 2022-10-01) drops properties it does not
   * know, so a newer API's property goes as a newer client sends it, as raw JSON.
   */
  const carriers: Record<string, (prop: string, value: Json) => { path: string; send: [method: string, url: string, body: Body]; sdk?: () => Promise<unknown> }> = {
    PoolAddParameter: (p, v) => ({ path: p, send: ['POST', '/pools', { ...basePool(uid('p')), [p]: v }] }),
    PoolSpecification: (p, v) => ({
      path: `poolInfo.autoPoolSpecification.pool.${p}`,
      send: ['POST', '/jobs', { id: uid('j'), poolInfo: { autoPoolSpecification: { poolLifetimeOption: 'job', pool: { ...basePool('x'), id: null, [p]: v } } } }],
    }),
    PoolPatchParameter: (p, v) => ({ path: p, send: ['PATCH', `/pools/${emptyPool}`, { [p]: v }] }),
    PoolUpdatePropertiesParameter: (p, v) => ({
      path: p,
      send: ['POST', `/pools/${emptyPool}/updateproperties`, { certificateReferences: [], applicationPackageReferences: [], metadata: [], [p]: v }],
    }),
    TaskSchedulingPolicy: (p, v) => ({
      path: `taskSchedulingPolicy.${p}`,
      send: ['POST', '/pools', { ...basePool(uid('p')), taskSchedulingPolicy: { nodeFillType: 'spread', [p]: v } }],
    }),
    VirtualMachineConfiguration: (p, v) => ({
      path: `virtualMachineConfiguration.${p}`,
      send: ['POST', '/pools', { ...basePool(uid('p')), virtualMachineConfiguration: { ...vm, [p]: v } }],
    }),
    ImageReference: (p, v) => ({
      path: `virtualMachineConfiguration.imageReference.${p}`,
      send: ['POST', '/pools', { ...basePool(uid('p')), virtualMachineConfiguration: { ...vm, imageReference: { ...vm.imageReference, [p]: v } } }],
    }),
    UserAccount: (p, v) => ({ path: `userAccounts[0].${p}`, send: ['POST', '/pools', { ...basePool(uid('p')), userAccounts: [{ name: 'u', password: 'p', [p]: v }] }] }),
    LinuxUserConfiguration: (p, v) => ({
      path: `userAccounts[0].linuxUserConfiguration.${p}`,
      send: ['POST', '/pools', { ...basePool(uid('p')), userAccounts: [{ name: 'u', password: 'p', linuxUserConfiguration: { [p]: v } }] }],
    }),
    StartTask: (p, v) => ({ path: `startTask.${p}`, send: ['POST', '/pools', { ...basePool(uid('p')), startTask: taskLike({ [p]: v }) }] }),
    JobAddParameter: (p, v) => ({ path: p, send: ['POST', '/jobs', { id: uid('j'), poolInfo: { poolId }, [p]: v }] }),
    JobSpecification: (p, v) => ({
      path: `jobSpecification.${p}`,
      send: ['POST', '/jobschedules', { id: uid('s'), schedule: { recurrenceInterval: 'PT1H' }, jobSpecification: { poolInfo: { poolId }, [p]: v } }],
    }),
    JobPatchParameter: (p, v) => ({ path: p, send: ['PATCH', `/jobs/${jobId}`, { [p]: v }] }),
    JobUpdateParameter: (p, v) => ({ path: p, send: ['PUT', `/jobs/${jobId}`, { poolInfo: { poolId }, [p]: v }] }),
    JobManagerTask: (p, v) => ({ path: `jobManagerTask.${p}`, send: ['POST', '/jobs', { id: uid('j'), poolInfo: { poolId }, jobManagerTask: taskLike({ id: 'jm', [p]: v }) }] }),
    JobPreparationTask: (p, v) => ({ path: `jobPreparationTask.${p}`, send: ['POST', '/jobs', { id: uid('j'), poolInfo: { poolId }, jobPreparationTask: taskLike({ [p]: v }) }] }),
    JobReleaseTask: (p, v) => ({
      path: `jobReleaseTask.${p}`,
      send: ['POST', '/jobs', { id: uid('j'), poolInfo: { poolId }, jobPreparationTask: taskLike({}), jobReleaseTask: taskLike({ [p]: v }) }],
    }),
    TaskAddParameter: (p, v) => ({ path: p, send: ['POST', `/jobs/${jobId}/tasks`, taskLike({ id: uid('t'), [p]: v })] }),
    ResourceFile: (p, v) => ({
      path: `resourceFiles[0].${p}`,
      send: ['POST', `/jobs/${jobId}/tasks`, taskLike({ id: uid('t'), resourceFiles: [{ httpUrl: 'http://127.0.0.1:1/x', filePath: 'x', [p]: v }] })],
    }),
    OutputFileBlobContainerDestination: (p, v) => ({
      path: `outputFiles[0].destination.container.${p}`,
      send: [
        'POST',
        `/jobs/${jobId}/tasks`,
        taskLike({
          id: uid('t'),
          outputFiles: [
            { filePattern: '*.txt', destination: { container: { containerUrl: 'http://127.0.0.1:1/c', [p]: v } }, uploadOptions: { uploadCondition: 'taskcompletion' } },
          ],
        }),
      ],
    }),
  };

  /** The SDK call for a carrier's request (its operations take the body as their model). */
  const sdkCall = ([method, url, body]: [string, string, Body]): (() => Promise<unknown>) => {
    const b = body as never;
    const route = `${method} ${url}`;
    if (route === 'POST /pools') return () => client.pool.add(b);
    if (route === 'POST /jobs') return () => client.job.add(b);
    if (route === 'POST /jobschedules') return () => client.jobSchedule.add(b);
    if (route === `PATCH /pools/${emptyPool}`) return () => client.pool.patch(emptyPool, b);
    if (route === `POST /pools/${emptyPool}/updateproperties`) return () => client.pool.updateProperties(emptyPool, b);
    if (route === `PATCH /jobs/${jobId}`) return () => client.job.patch(jobId, b);
    if (route === `PUT /jobs/${jobId}`) return () => client.job.update(jobId, b);
    if (route === `POST /jobs/${jobId}/tasks`) return () => client.task.add(jobId, b);
    throw new Error(`no SDK call for ${route}`);
  };

  const refusedWith = (code: string, path: string) => (e: SdkError) => {
    assert.equal(e.statusCode, 400, `${path}: ${messageOf(e)}`);
    assert.equal(e.code, code, path);
    assert.match(messageOf(e), /Kiln does not support|Kiln runs Linux nodes only/, path);
    assert.equal(e.body?.values?.find((v) => v.key === 'PropertyName')?.value, path);
    return true;
  };

  it('has a request for every model of the table', () => {
    for (const entry of UNSUPPORTED_PROPERTIES) assert.ok(carriers[entry.model], `no carrier for ${entry.model}`);
  });

  for (const entry of UNSUPPORTED_PROPERTIES) {
    it(`refuses ${entry.model}.${entry.property} with UnsupportedProperty`, async () => {
      const carried = carriers[entry.model]!(entry.property, valueFor(entry));
      if (MODELS[entry.model]?.[entry.property]) {
        await assert.rejects(sdkCall(carried.send)(), refusedWith('UnsupportedProperty', carried.path));
      } else {
        const [method, url, body] = carried.send;
        const res = await batchRequest(kiln.batchUrl, method, url, { body });
        assert.equal(res.status, 400, res.text);
        const error = batchErrorOf(res);
        assert.equal(error.code, 'UnsupportedProperty');
        assert.match(error.message.value, /Kiln does not support/);
        assert.equal(error.values?.find((v) => v.key === 'PropertyName')?.value, carried.path);
      }
    });
  }

  it('accepts the default and empty values of what it does not implement, and newer empty properties', async () => {
    const id = uid('defaults');
    await client.pool.add({
      ...sdkPool(id),
      mountConfiguration: [],
      enableInterNodeCommunication: false,
      enableAutoScale: false,
      applicationPackageReferences: [],
      certificateReferences: [],
      targetNodeCommunicationMode: 'default',
    });
    const pool = await client.pool.get(id);
    assert.equal(pool.enableInterNodeCommunication, false);
    assert.equal(pool.enableAutoScale, false);
    const res = await batchRequest(kiln.batchUrl, 'POST', '/pools', { body: { ...basePool(uid('newer')), resourceTags: {}, upgradePolicy: null } });
    assert.equal(res.status, 201, res.text);
    await client.task.add(jobId, { id: uid('t'), commandLine: '/bin/true', applicationPackageReferences: [] });
    await client.job.add({ id: uid('j'), poolInfo: { poolId }, jobManagerTask: { id: 'jm', commandLine: '/bin/true', allowLowPriorityNode: true }, allowTaskPreemption: false });
  });

  it('refuses cloud-service pools, Windows images and SKUs, and node agent SKUs it does not list', async () => {
    await assert.rejects(
      client.pool.add({ id: uid('cloud'), vmSize: 'standard_d2s_v3', cloudServiceConfiguration: { osFamily: '6' }, targetDedicatedNodes: 0 }),
      refusedWith('UnsupportedProperty', 'cloudServiceConfiguration'),
    );
    const windows = {
      imageReference: { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter', version: 'latest' },
      nodeAgentSKUId: 'batch.node.ubuntu 22.04',
    };
    await assert.rejects(
      client.pool.add({ ...sdkPool(uid('w')), virtualMachineConfiguration: windows }),
      refusedWith('InvalidPropertyValue', 'virtualMachineConfiguration.imageReference.publisher'),
    );
    await assert.rejects(
      client.pool.add({ ...sdkPool(uid('w')), virtualMachineConfiguration: { ...vm, nodeAgentSKUId: 'batch.node.windows amd64' } }),
      refusedWith('InvalidPropertyValue', 'virtualMachineConfiguration.nodeAgentSKUId'),
    );
    await assert.rejects(
      client.pool.add({ ...sdkPool(uid('w')), virtualMachineConfiguration: { ...vm, nodeAgentSKUId: 'batch.node.centos 6' } }),
      refusedWith('InvalidPropertyValue', 'virtualMachineConfiguration.nodeAgentSKUId'),
    );
    // Every SKU GET /nodeagentskus lists is accepted, in any case.
    const skus = (await batchRequest(kiln.batchUrl, 'GET', '/nodeagentskus')).json().value as { id: string }[];
    assert.ok(skus.length > 0);
    for (const { id: sku } of skus) await client.pool.add({ ...sdkPool(uid('sku')), virtualMachineConfiguration: { ...vm, nodeAgentSKUId: sku.toUpperCase() } });
  });

  it('a task whose userName is none of the pool accounts fails with UserNotFound and runs as nobody else', async () => {
    const marker = `/tmp/kiln-refusals-${process.pid}-ran`;
    try {
      await client.task.add(jobId, { id: 'stranger', commandLine: `/bin/sh -c 'touch ${marker}'`, userIdentity: { userName: 'nosuchuser' } });
      const task = await waitForTask(client, jobId, 'stranger');
      assert.equal(task.executionInfo?.result, 'failure');
      assert.equal(task.executionInfo?.failureInfo?.category, 'usererror');
      assert.equal(task.executionInfo?.failureInfo?.code, 'UserNotFound');
      assert.match(task.executionInfo?.failureInfo?.message ?? '', /nosuchuser/);
      assert.equal(fs.existsSync(marker), false, 'the command never ran');
    } finally {
      fs.rmSync(marker, { force: true });
    }
  });

  it('answers NotImplemented for operations it lacks, after PoolNotFound/NodeNotFound', async () => {
    const nodeOps: [string, (p: string, n: string) => Promise<unknown>][] = [
      ['addUser', (p, n) => client.computeNode.addUser(p, n, { name: 'u', password: 'x' })],
      ['updateUser', (p, n) => client.computeNode.updateUser(p, n, 'u', { password: 'y' })],
      ['deleteUser', (p, n) => client.computeNode.deleteUser(p, n, 'u')],
      ['getRemoteLoginSettings', (p, n) => client.computeNode.getRemoteLoginSettings(p, n)],
      ['uploadBatchServiceLogs', (p, n) => client.computeNode.uploadBatchServiceLogs(p, n, { containerUrl: 'http://127.0.0.1:1/c', startTime: new Date() })],
      ['extensions list', (p, n) => client.computeNodeExtension.list(p, n)],
      ['extensions get', (p, n) => client.computeNodeExtension.get(p, n, 'e')],
    ];
    const notImplemented = (what: string) => (e: SdkError) => {
      assert.equal(e.statusCode, 400, `${what}: ${messageOf(e)}`);
      assert.equal(e.code, 'NotImplemented', what);
      assert.match(messageOf(e), /Kiln does not support the operation/, what);
      return true;
    };
    const notFound = (code: string, what: string) => (e: { statusCode?: number; code?: string }) =>
      e.statusCode === 404 && e.code === code ? true : assert.fail(`${what}: ${e.statusCode} ${e.code}`);
    for (const [what, op] of nodeOps) {
      await assert.rejects(op(poolId, nodeId), notImplemented(what));
      await assert.rejects(op(poolId, 'tvm-missing'), notFound('NodeNotFound', what));
      await assert.rejects(op('no-such-pool', nodeId), notFound('PoolNotFound', what));
    }
    // The RDP file is a stream the SDK does not parse errors of; deallocate and start are newer than the SDK.
    for (const [method, verb] of [
      ['GET', 'rdp'],
      ['POST', 'deallocate'],
      ['POST', 'start'],
    ] as const) {
      const res = await batchRequest(kiln.batchUrl, method, `/pools/${poolId}/nodes/${nodeId}/${verb}`);
      assert.equal(res.status, 400, res.text);
      assert.equal(batchErrorOf(res).code, 'NotImplemented');
      const missing = await batchRequest(kiln.batchUrl, method, `/pools/${poolId}/nodes/tvm-missing/${verb}`);
      assert.equal(batchErrorOf(missing).code, 'NodeNotFound');
    }
    await assert.rejects(client.pool.enableAutoScale(poolId, { autoScaleFormula: '$TargetDedicatedNodes = 1;' }), notImplemented('enableAutoScale'));
    await assert.rejects(client.pool.evaluateAutoScale(poolId, '$TargetDedicatedNodes = 1;'), notImplemented('evaluateAutoScale'));
    await assert.rejects(client.pool.enableAutoScale('no-such-pool', { autoScaleFormula: 'x' }), notFound('PoolNotFound', 'enableAutoScale'));
    await assert.rejects(client.pool.getAllLifetimeStatistics(), notImplemented('pool lifetime stats'));
    await assert.rejects(client.job.getAllLifetimeStatistics(), notImplemented('job lifetime stats'));
    await assert.rejects(client.certificate.add({ thumbprint: 'ab', thumbprintAlgorithm: 'sha1', data: 'eA==' }), notImplemented('certificate add'));
    // Kiln has no certificates or applications: looking one up is simply not found.
    await assert.rejects(client.certificate.get('sha1', 'ab'), notFound('CertificateNotFound', 'certificate get'));
    await assert.rejects(client.certificate.deleteMethod('sha1', 'ab'), notFound('CertificateNotFound', 'certificate delete'));
    await assert.rejects(client.certificate.cancelDeletion('sha1', 'ab'), notFound('CertificateNotFound', 'certificate cancel delete'));
    await assert.rejects(client.application.get('app'), notFound('ApplicationNotFound', 'application get'));
    // The pool and its node are still there and well.
    await waitFor('the node still idle', async () => ((await client.computeNode.get(poolId, nodeId)).state === 'idle' ? true : undefined));
  });

  it('routes every operation of the @azure/batch SDK', () => {
    const sdk = fs.readFileSync(createRequire(import.meta.url).resolve('@azure/batch'), 'utf8');
    const ops = [...sdk.matchAll(/httpMethod:\s*"([A-Z]+)",\s*path:\s*"([^"]+)"/g)].map(([, m, p]) => `${m} /${p}`);
    assert.ok(ops.length > 60, 'the SDK operations were found');
    for (const op of new Set(ops)) assert.ok(OPERATIONS.includes(op), `${op} is routed`);
  });
});
