import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { joinToken } from '../../src/auth/agentTokens.js';
import { devAccount } from '../../src/config/accounts.js';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { vm } from './helpers.js';

// The agent protocol spoken by hand: a node that loses a command on the way, and says so.
describe('a task whose command never reached its node', () => {
  let kiln: KilnProcess;
  before(async () => {
    kiln = await startKiln();
  });
  after(async () => {
    await kiln.stop();
    for (const dir of [kiln.dataDir, kiln.nodesDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('goes back to the queue once the node heartbeats without it', async () => {
    const client = kiln.batchClient();
    await client.pool.add({ id: 'lossy', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const api = `${kiln.batchUrl}/kiln-agent/v1`;
    const joined = (await (
      await fetch(`${api}/pools/lossy/nodes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${joinToken(devAccount(), 'lossy')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ hostname: 'by-hand', isDedicated: true, canSeparateUsers: false }),
      })
    ).json()) as { nodeId: string; nodeToken: string };
    const auth = { authorization: `Bearer ${joined.nodeToken}` };

    // The command stream: read until the task's command arrives, then drop it unrun.
    const stream = new AbortController();
    const response = await fetch(`${api}/nodes/${joined.nodeId}/commands`, { headers: auth, signal: stream.signal });
    const reader = response.body!.getReader();
    await client.job.add({ id: 'lossy-job', poolInfo: { poolId: 'lossy' } });
    await client.task.add('lossy-job', { id: 'dropped', commandLine: '/bin/true' });
    let text = '';
    while (!text.includes('"runTask"')) text += new TextDecoder().decode((await reader.read()).value);
    stream.abort();
    assert.equal((await client.task.get('lossy-job', 'dropped')).state, 'running');

    const beat = () =>
      fetch(`${api}/nodes/${joined.nodeId}/reports`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ reports: [], running: [] }),
      });
    const task = await waitFor(
      'the task to be requeued',
      async () => {
        assert.equal((await beat()).status, 200);
        const t = await client.task.get('lossy-job', 'dropped');
        // Requeued, then placed again at once (on the only node, where it queues for the stream).
        return (t.executionInfo?.requeueCount ?? 0) >= 1 ? t : undefined;
      },
      40_000,
    );
    assert.equal(task.executionInfo?.requeueCount, 1);
    assert.equal(task.executionInfo?.retryCount, 0, 'a lost command uses up no retry');
    const malformed = await fetch(`${api}/nodes/${joined.nodeId}/reports`, { method: 'POST', headers: auth, body: JSON.stringify({ reports: [], running: 'all' }) });
    assert.equal(malformed.status, 400);
  });
});
