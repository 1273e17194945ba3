import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startKiln } from '../helpers/kiln.js';

const vm = { imageReference: { publisher: 'debian', offer: 'debian-12', sku: '12' }, nodeAgentSKUId: 'batch.node.debian 12' };

describe('Batch state survives kill -9', () => {
  it('keeps every acknowledged pool, job and task and their states', async () => {
    const first = await startKiln();
    try {
      const client = first.batchClient();
      await client.pool.add({ id: 'durable-pool', vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
      await client.job.add({ id: 'durable-job', poolInfo: { poolId: 'durable-pool' } });
      await client.task.addCollection(
        'durable-job',
        Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, commandLine: 'x' })),
      );
      await client.task.terminate('durable-job', 't7');
    } finally {
      await first.kill9();
    }
    const second = await startKiln({ dataDir: first.dataDir });
    try {
      const client = second.batchClient();
      assert.equal((await client.pool.get('durable-pool')).state, 'active');
      assert.equal((await client.job.get('durable-job')).state, 'active');
      const counts = await client.job.getTaskCounts('durable-job');
      assert.deepEqual({ ...counts.taskCounts }, { active: 49, running: 0, completed: 1, succeeded: 0, failed: 1 });
      assert.equal((await client.task.get('durable-job', 't7')).executionInfo?.failureInfo?.code, 'TaskEnded');
    } finally {
      await second.stop();
    }
  });
});
