import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KILN_BIN, startKiln, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';

const vm = {
  imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', version: 'latest' },
  nodeAgentSKUId: 'batch.node.ubuntu 22.04',
};

describe('kiln agent joins a pool from outside kiln up', () => {
  let kiln: KilnProcess;
  let agent: ChildProcess | undefined;
  const root = tempDir('kiln-remote-node-');
  fs.chmodSync(root, 0o755);
  // Where the agent keeps which node it is (/var/lib/kiln/agents outside tests).
  const AGENT_STATE_DIR = path.join(tempDir('kiln-agent-state-'), 'agents');
  const agentEnv = { ...process.env, KILN_AGENT_STATE_DIR: AGENT_STATE_DIR };
  // The join token goes in a file (or env KILN_AGENT_TOKEN), never on the command line.
  const tokenFile = path.join(tempDir('kiln-agent-token-'), 'token');
  const agentArgs = () => [KILN_BIN, 'agent', '--batch-url', kiln.batchUrl, '--pool', 'remote', '--token-file', tokenFile, '--root', root];

  before(async () => {
    kiln = await startKiln();
  });
  after(async () => {
    if (agent?.pid) {
      try {
        process.kill(-agent.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await kiln.stop();
    for (const dir of [root, kiln.dataDir, kiln.nodesDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs tasks with the token kiln agent-token prints, and is refused with a wrong one', async () => {
    const batch = kiln.batchClient();
    await batch.pool.add({ id: 'remote', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const token = execFileSync(process.execPath, [KILN_BIN, 'agent-token', '--pool', 'remote'], { encoding: 'utf8' }).trim();
    fs.writeFileSync(tokenFile, `${token.slice(0, -3)}AAA\n`, { mode: 0o600 });
    const forged = spawn(process.execPath, agentArgs(), { stdio: ['ignore', 'ignore', 'pipe'], env: agentEnv });
    let forgedOutput = '';
    forged.stderr!.on('data', (d: Buffer) => (forgedOutput += d.toString()));
    const forgedExit = await new Promise<number | null>((resolve) => forged.once('exit', resolve));
    assert.notEqual(forgedExit, 0);
    assert.match(forgedOutput, /401/);
    assert.equal((await batch.computeNode.list('remote')).length, 0, 'a forged token joins nothing');

    fs.writeFileSync(tokenFile, `${token}\n`);
    agent = spawn(process.execPath, agentArgs(), { detached: true, stdio: 'ignore', env: agentEnv });
    const [node] = await waitFor('the remote node to be idle', async () => {
      const nodes = await batch.computeNode.list('remote');
      return nodes.length === 1 && nodes[0]!.state === 'idle' ? nodes : undefined;
    });
    assert.equal((await batch.pool.get('remote')).currentDedicatedNodes, 1);

    await batch.job.add({ id: 'remote-job', poolInfo: { poolId: 'remote' } });
    await batch.task.add('remote-job', { id: 'where', commandLine: `/bin/sh -c 'echo $AZ_BATCH_NODE_ROOT_DIR'` });
    const task = await waitFor('the task to complete', async () => {
      const t = await batch.task.get('remote-job', 'where');
      return t.state === 'completed' ? t : undefined;
    });
    assert.equal(task.executionInfo?.result, 'success');
    assert.equal(task.nodeInfo?.nodeId, node!.id);
    const stdout = await batch.file.getFromTask('remote-job', 'where', 'stdout.txt');
    assert.equal((await new Response(stdout.readableStreamBody as unknown as ReadableStream).text()).trim(), root);
    assert.ok(fs.existsSync(path.join(root, 'workitems/remote-job/job-1/where/stdout.txt')), "the task ran in the agent's own root");
  });

  it('stays the same node across a restart of its own (a host reboot, a crash), and its node is told apart from a new one', async () => {
    const batch = kiln.batchClient();
    const [before] = await batch.computeNode.list('remote');
    assert.ok(before?.id);
    // The agent dies with everything it runs, as when its host goes down, and comes back.
    process.kill(-agent!.pid!, 'SIGKILL');
    await new Promise((resolve) => (agent!.exitCode !== null || agent!.signalCode !== null ? resolve(null) : agent!.once('exit', resolve)));
    const kept = fs.readdirSync(AGENT_STATE_DIR).filter((name) => name.endsWith('.json'));
    assert.equal(kept.length, 1, 'the agent kept which node it is');
    assert.equal(fs.statSync(path.join(AGENT_STATE_DIR, kept[0]!)).mode & 0o777, 0o600);
    agent = spawn(process.execPath, agentArgs(), { detached: true, stdio: 'ignore', env: agentEnv });
    await waitFor(
      'the node to be back, idle',
      async () => {
        const nodes = await batch.computeNode.list('remote');
        return nodes.length === 1 && nodes[0]!.id === before.id && nodes[0]!.state === 'idle' ? true : undefined;
      },
      30_000,
    );
    assert.equal((await batch.pool.get('remote')).currentDedicatedNodes, 1, 'no second node joined');
    await batch.task.add('remote-job', { id: 'after-reboot', commandLine: '/bin/true' });
    const task = await waitFor('the task to complete', async () => {
      const t = await batch.task.get('remote-job', 'after-reboot');
      return t.state === 'completed' ? t : undefined;
    });
    assert.equal(task.nodeInfo?.nodeId, before.id);
  });

  it('keeps running its task across a restart of the server, and reports it', async () => {
    const batch = kiln.batchClient();
    const gate = path.join(root, 'gate');
    await batch.task.add('remote-job', { id: 'across-restart', commandLine: `/bin/sh -c 'while [ ! -e ${gate} ]; do sleep 0.02; done; echo done'` });
    await waitFor('the task to run', async () => ((await batch.task.get('remote-job', 'across-restart')).state === 'running' ? true : undefined));

    const { dataDir, nodesDir, blobPort, batchPort } = kiln;
    assert.equal(await kiln.stop(), 0);
    kiln = await startKiln({ dataDir, nodesDir, blobPort, batchPort });
    const after = kiln.batchClient();
    assert.equal((await after.task.get('remote-job', 'across-restart')).state, 'running', 'the store remembers the task on its node');
    await waitFor('the agent to reconnect', () => (kiln.output().includes('waiting for the agents of 1 node(s) to reconnect') ? true : undefined));
    fs.writeFileSync(gate, '');
    const task = await waitFor('the task to complete', async () => {
      const t = await after.task.get('remote-job', 'across-restart');
      return t.state === 'completed' ? t : undefined;
    });
    assert.equal(task.executionInfo?.result, 'success');
    assert.equal(task.executionInfo?.requeueCount, 0, 'the run was not lost with the server');
    const [node] = await after.computeNode.list('remote');
    assert.equal(node?.state, 'idle');
  });
});
