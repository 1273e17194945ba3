import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';

const vm = { imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts' }, nodeAgentSKUId: 'batch.node.ubuntu 22.04' };

describe('Batch account and pools through @azure/batch', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
  });
  after(async () => {
    await kiln.stop();
  });

  it('kiln up prints the Batch endpoint', () => {
    assert.match(kiln.output(), new RegExp(`Batch service: http://127\\.0\\.0\\.1:${kiln.batchPort}`));
  });

  it('lists supported images, filtered, and the old node agent SKUs', async () => {
    const images = await client.account.listSupportedImages();
    assert.ok(images.some((i) => i.nodeAgentSKUId === 'batch.node.ubuntu 22.04' && i.osType === 'linux' && i.verificationType === 'verified'));
    assert.ok(images.some((i) => i.nodeAgentSKUId.startsWith('batch.node.debian')));
    const ubuntu = await client.account.listSupportedImages({ accountListSupportedImagesOptions: { filter: "nodeAgentSKUId eq 'batch.node.ubuntu 20.04'" } });
    assert.deepEqual(
      ubuntu.map((i) => i.imageReference.sku),
      ['20_04-lts'],
    );
    const legacy = await batchRequest(kiln.batchUrl, 'GET', '/nodeagentskus', { noApiVersion: true, query: 'api-version=2016-07-01.3.1' });
    assert.equal(legacy.status, 200);
    const skus = legacy.json().value as { id: string; verifiedImageReferences: { offer: string; sku: string }[] }[];
    assert.ok(skus.some((s) => s.id === 'batch.node.ubuntu 16.04' && s.verifiedImageReferences.some((r) => r.offer === 'UbuntuServer' && r.sku.startsWith('16.04'))));
  });

  it('adds, gets, lists, checks and deletes a pool', async () => {
    const added = await client.pool.add({
      id: 'Pool-1',
      vmSize: 'STANDARD_D2S_V3',
      virtualMachineConfiguration: vm,
      targetDedicatedNodes: 0,
      startTask: { commandLine: '/bin/sh -c "echo hi"', resourceFiles: [{ httpUrl: 'http://example.com/x', filePath: 'x' }] },
      metadata: [{ name: 'owner', value: 'me' }],
    });
    assert.match(added.eTag!, /^0x[0-9A-F]+$/);
    assert.equal(added._response.status, 201);
    const pool = await client.pool.get('pool-1');
    assert.equal(pool.id, 'Pool-1');
    assert.equal(pool.url, `${kiln.batchUrl}/pools/Pool-1`);
    assert.equal(pool.state, 'active');
    assert.equal(pool.allocationState, 'steady');
    assert.equal(pool.vmSize, 'standard_d2s_v3');
    assert.equal(pool.resizeTimeout, 'PT15M');
    assert.equal(pool.taskSlotsPerNode, 1);
    assert.equal(pool.taskSchedulingPolicy?.nodeFillType, 'spread');
    assert.equal(pool.startTask?.waitForSuccess, true);
    assert.equal(pool.startTask?.maxTaskRetryCount, 0);
    assert.deepEqual(pool.metadata, [{ name: 'owner', value: 'me' }]);
    assert.equal(pool.eTag, added.eTag);
    assert.equal((await client.pool.exists('Pool-1')).body, true);
    assert.equal((await client.pool.exists('nope')).body, false);
    const pools = await client.pool.list({ poolListOptions: { filter: "state eq 'active'", select: 'id,state' } });
    assert.deepEqual(
      pools.map((p) => ({ id: p.id, state: p.state, vmSize: p.vmSize })),
      [{ id: 'Pool-1', state: 'active', vmSize: undefined }],
    );
    await assert.rejects(
      client.pool.add({ id: 'POOL-1', vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 }),
      (e: any) => e.statusCode === 409 && e.code === 'PoolExists',
    );
    const deleted = await client.pool.deleteMethod('Pool-1');
    assert.equal(deleted._response.status, 202);
    await assert.rejects(client.pool.get('Pool-1'), (e: any) => e.statusCode === 404 && e.code === 'PoolNotFound');
  });

  it('patches and replaces pool properties', async () => {
    await client.pool.add({ id: 'p2', vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0, metadata: [{ name: 'a', value: '1' }] });
    await client.pool.patch('p2', { startTask: { commandLine: 'echo patched' } });
    let pool = await client.pool.get('p2');
    assert.equal(pool.startTask?.commandLine, 'echo patched');
    assert.deepEqual(pool.metadata, [{ name: 'a', value: '1' }]);
    const res = await client.pool.updateProperties('p2', { certificateReferences: [], applicationPackageReferences: [], metadata: [{ name: 'b', value: '2' }] });
    assert.equal(res._response.status, 204);
    pool = await client.pool.get('p2');
    assert.equal(pool.startTask, undefined);
    assert.deepEqual(pool.metadata, [{ name: 'b', value: '2' }]);
  });

  it('resizes, stops a resize, and refuses autoscale', async () => {
    await client.pool.add({ id: 'p3', vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
    const resized = await client.pool.resize('p3', { targetDedicatedNodes: 2, targetLowPriorityNodes: 1 });
    assert.equal(resized._response.status, 202);
    // kiln up allocates local nodes at once: the pool is soon steady again, with its nodes.
    const steady = (dedicated: number, lowPriority: number) =>
      waitFor(
        `p3 steady at ${dedicated}/${lowPriority}`,
        async () => {
          const p = await client.pool.get('p3');
          return p.allocationState === 'steady' && p.currentDedicatedNodes === dedicated && p.currentLowPriorityNodes === lowPriority ? p : undefined;
        },
        30_000,
      ); // steady once the nodes' agents have joined: slower on a loaded machine
    let pool = await steady(2, 1);
    assert.equal(pool.targetDedicatedNodes, 2);
    assert.equal(pool.targetLowPriorityNodes, 1);
    await assert.rejects(client.pool.stopResize('p3'), (e: any) => e.statusCode === 409 && e.code === 'PoolNotResizing');
    await client.pool.resize('p3', { targetDedicatedNodes: 0, targetLowPriorityNodes: 0 });
    pool = await steady(0, 0);
    assert.equal(pool.targetDedicatedNodes, 0);
    assert.equal((await client.computeNode.list('p3')).length, 0);

    // Kiln does not evaluate formulas: autoscale is refused (test/batch/refusals.test.ts), and the pool keeps its targets.
    await assert.rejects(client.pool.enableAutoScale('p3', { autoScaleFormula: '$TargetDedicatedNodes = 1;' }), (e: any) => e.statusCode === 400 && e.code === 'NotImplemented');
    await client.pool.disableAutoScale('p3');
    pool = await client.pool.get('p3');
    assert.equal(pool.enableAutoScale, false);
    assert.equal(pool.targetDedicatedNodes, 0);
  });

  it('accepts the legacy targetDedicated, runElevated and blobSource', async () => {
    const res = await batchRequest(kiln.batchUrl, 'POST', '/pools', {
      body: {
        id: 'PythonTutorialPool',
        vmSize: 'STANDARD_A1',
        virtualMachineConfiguration: {
          imageReference: { publisher: 'Canonical', offer: 'UbuntuServer', sku: '16.04-LTS', version: 'latest' },
          nodeAgentSKUId: 'batch.node.ubuntu 16.04',
        },
        targetDedicated: 1,
        startTask: {
          commandLine: "/bin/bash -c 'true'",
          runElevated: true,
          waitForSuccess: true,
          resourceFiles: [{ blobSource: 'http://127.0.0.1/x?sig=1', filePath: 'python_tutorial_task.py' }],
        },
      },
    });
    assert.equal(res.status, 201, res.text);
    const pool = await client.pool.get('PythonTutorialPool');
    assert.equal(pool.targetDedicatedNodes, 1);
    assert.equal(pool.startTask?.userIdentity?.autoUser?.elevationLevel, 'admin');
    assert.equal(pool.startTask?.resourceFiles?.[0]?.httpUrl, 'http://127.0.0.1/x?sig=1');
    await client.pool.deleteMethod('PythonTutorialPool');
  });

  it('counts nodes per pool; a pool without nodes lists none', async () => {
    const counts = await client.account.listPoolNodeCounts();
    const p2 = counts.find((c) => c.poolId === 'p2');
    assert.equal(p2?.dedicated?.total, 0);
    assert.equal(p2?.lowPriority?.idle, 0);
    assert.equal((await client.computeNode.list('p2')).length, 0);
    await assert.rejects(client.computeNode.get('p2', 'tvm-1'), (e: any) => e.statusCode === 404 && e.code === 'NodeNotFound');
    await assert.rejects(client.computeNode.reboot('p2', 'tvm-1'), (e: any) => e.statusCode === 404 && e.code === 'NodeNotFound');
    await assert.rejects(client.pool.removeNodes('p2', { nodeList: ['tvm-1'] }), (e: any) => e.statusCode === 404 && e.code === 'NodeNotFound');
    const usage = await client.pool.listUsageMetrics();
    assert.equal(usage.length, 0);
  });

  it('answers 412 to a stale If-Match and 304 to a matching If-None-Match', async () => {
    const pool = await client.pool.get('p2');
    const stale = await batchRequest(kiln.batchUrl, 'PATCH', '/pools/p2', { body: { metadata: [] }, headers: { 'If-Match': '0x1234' } });
    assert.equal(stale.status, 412);
    assert.equal(batchErrorOf(stale).code, 'ConditionNotMet');
    const fresh = await batchRequest(kiln.batchUrl, 'PATCH', '/pools/p2', { body: { metadata: [] }, headers: { 'If-Match': pool.eTag! } });
    assert.equal(fresh.status, 200);
    assert.notEqual(fresh.headers.etag, pool.eTag);
    const notModified = await batchRequest(kiln.batchUrl, 'GET', '/pools/p2', { headers: { 'If-None-Match': String(fresh.headers.etag) } });
    assert.equal(notModified.status, 304);
  });
});
