import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { BlobSASPermissions, ContainerSASPermissions } from '@azure/storage-blob';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, admin, nodeRoot, taskStdout, uid, vm, waitForNodes, waitForTask, waitingReason, stopKiln } from './helpers.js';

describe('start tasks on local pools', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let inputUrl: string;
  let containerUrl: string;
  let containerName: string;
  const payload = `start task input ${Date.now()}\n`;

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    containerName = uid('inputs');
    const container = kiln.blobService().getContainerClient(containerName);
    await container.create();
    const blob = container.getBlockBlobClient('data/input.txt');
    await blob.upload(payload, Buffer.byteLength(payload));
    await container.getBlockBlobClient('data/other.txt').upload('other\n', 6);
    await container.getBlockBlobClient('elsewhere.txt').upload('no\n', 3);
    inputUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
    containerUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) });
  });

  after(() => stopKiln(kiln));

  it('downloads a blob by SAS URL into the start task directory, copies it to the shared directory, and tasks read it', async () => {
    const poolId = uid('Pool-Start');
    const nodes = await addPool(client, poolId, 2, {
      startTask: {
        commandLine: `/bin/sh -c 'cp input.txt "$AZ_BATCH_NODE_SHARED_DIR/input.txt" && ls sub && echo "started as $(id -un) in $PWD"'`,
        resourceFiles: [
          { httpUrl: inputUrl, filePath: 'input.txt' },
          { storageContainerUrl: containerUrl, blobPrefix: 'data/', filePath: 'sub', fileMode: '0640' },
          // The account's auto-storage is its own Blob service.
          { autoStorageContainerName: containerName, blobPrefix: 'else' },
        ],
        userIdentity: admin,
        waitForSuccess: true,
      },
    });
    for (const node of nodes) {
      const full = await client.computeNode.get(poolId, node.id!);
      assert.equal(full.state, 'idle');
      assert.equal(full.startTaskInfo?.state, 'completed');
      assert.equal(full.startTaskInfo?.exitCode, 0);
      assert.equal(full.startTaskInfo?.result, 'success');
      assert.equal(full.startTaskInfo?.retryCount, 0);
      assert.ok(full.startTaskInfo?.startTime && full.startTaskInfo.endTime);
      const root = nodeRoot(kiln, poolId, node.id!);
      assert.equal(fs.readFileSync(path.join(root, 'startup/wd/input.txt'), 'utf8'), payload);
      assert.equal(fs.readFileSync(path.join(root, 'shared/input.txt'), 'utf8'), payload);
      assert.equal(fs.statSync(path.join(root, 'startup/wd/sub/data/other.txt')).mode & 0o777, 0o640);
      assert.ok(!fs.existsSync(path.join(root, 'startup/wd/sub/elsewhere.txt')), 'only blobs with the prefix');
      assert.equal(fs.readFileSync(path.join(root, 'startup/wd/elsewhere.txt'), 'utf8'), 'no\n');
      assert.ok(!fs.existsSync(path.join(root, 'startup/wd/data')));
      const out = fs.readFileSync(path.join(root, 'startup/stdout.txt'), 'utf8');
      assert.match(out, /^data$/m);
      assert.ok(out.includes(`started as root in ${path.join(root, 'startup/wd')}`), out);
    }

    const jobId = uid('job-read');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.add(jobId, { id: 'reader', commandLine: `/bin/sh -c 'cat "$AZ_BATCH_NODE_SHARED_DIR/input.txt"'` });
    const task = await waitForTask(client, jobId, 'reader');
    assert.equal(task.executionInfo?.result, 'success');
    assert.equal(await taskStdout(kiln, client, jobId, 'reader'), payload);
    await client.pool.deleteMethod(poolId);
  });

  it('a failing start task leaves the node starttaskfailed with its failure info, after its retries, and it gets no tasks', async () => {
    const poolId = uid('pool-fail');
    await client.pool.add({
      id: poolId,
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: vm,
      targetDedicatedNodes: 1,
      startTask: { commandLine: `/bin/sh -c 'echo attempt >> "$AZ_BATCH_NODE_SHARED_DIR/attempts"; exit 3'`, maxTaskRetryCount: 2, waitForSuccess: true },
    });
    const [node] = await waitForNodes(client, poolId, 1, ['starttaskfailed']);
    const full = await client.computeNode.get(poolId, node!.id!);
    assert.equal(full.startTaskInfo?.state, 'completed');
    assert.equal(full.startTaskInfo?.result, 'failure');
    assert.equal(full.startTaskInfo?.exitCode, 3);
    assert.equal(full.startTaskInfo?.retryCount, 2);
    assert.equal(full.startTaskInfo?.failureInfo?.category, 'usererror');
    assert.equal(full.startTaskInfo?.failureInfo?.code, 'FailureExitCode');
    assert.equal(fs.readFileSync(path.join(nodeRoot(kiln, poolId, node!.id!), 'shared/attempts'), 'utf8'), 'attempt\nattempt\nattempt\n');

    const jobId = uid('job-blocked');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.add(jobId, { id: 't1', commandLine: '/bin/true' });
    // The node never takes it: it stays active while the node is starttaskfailed.
    const counts = await waitFor('the task to be counted', async () => {
      const c = await client.job.getTaskCounts(jobId);
      return c.taskCounts.active === 1 ? c : undefined;
    });
    assert.equal(counts.taskCounts.running, 0);
    assert.equal((await client.task.get(jobId, 't1')).state, 'active');
    assert.equal((await client.computeNode.get(poolId, node!.id!)).state, 'starttaskfailed');
    assert.match((await waitingReason(kiln, jobId, 't1')) ?? '', /^StartTaskFailed/);
    await client.job.terminate(jobId);
    await client.pool.deleteMethod(poolId);
  });

  it('a start task whose resource file cannot be downloaded fails the node with a blob error', async () => {
    const poolId = uid('pool-missing');
    // A container SAS covers any blob name in it, so this is a 404, not a bad signature.
    const [base, query] = containerUrl.split('?');
    const missingUrl = `${base}/data/missing.txt?${query}`;
    await client.pool.add({
      id: poolId,
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: vm,
      targetDedicatedNodes: 1,
      startTask: { commandLine: '/bin/true', resourceFiles: [{ httpUrl: missingUrl, filePath: 'x' }], waitForSuccess: true },
    });
    const [node] = await waitForNodes(client, poolId, 1, ['starttaskfailed']);
    const full = await client.computeNode.get(poolId, node!.id!);
    assert.equal(full.startTaskInfo?.result, 'failure');
    assert.equal(full.startTaskInfo?.failureInfo?.code, 'BlobNotFound');
    assert.equal(full.startTaskInfo?.exitCode, undefined);
    await client.pool.deleteMethod(poolId);
  });

  it('with waitForSuccess false the node takes tasks while its start task runs', async () => {
    const poolId = uid('pool-nowait');
    await client.pool.add({
      id: poolId,
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: vm,
      targetDedicatedNodes: 1,
      startTask: { commandLine: '/bin/sleep 30', waitForSuccess: false },
    });
    const [node] = await waitForNodes(client, poolId, 1, ['idle']);
    assert.equal((await client.computeNode.get(poolId, node!.id!)).startTaskInfo?.state, 'running');
    const jobId = uid('job-nowait');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    await client.task.add(jobId, { id: 't1', commandLine: '/bin/echo ran' });
    await waitForTask(client, jobId, 't1');
    assert.equal(await taskStdout(kiln, client, jobId, 't1'), 'ran\n');
    await client.pool.deleteMethod(poolId);
  });
});
