import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { releaseNodeUsers } from '../../src/agent/users.js';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { agentPids, vm, waitForNodes } from '../nodes/helpers.js';
import { CuttableProxy, killProcessGroup, Ledger, nowNs, startRemoteAgent } from './processesHelpers.js';

// No task runs twice at once: a task whose run forks a child into a session of its own (setsid),
// with an environment naming another node root, is requeued when its agent dies or is cut off
// from the server; a ledger written under flock by every run shows the first run's processes
// gone before the second starts. The node-loss timeout is short so that requeues come in seconds.
const LOST_AFTER_MS = 4000;

describe('no task runs twice at once', () => {
  let kiln: KilnProcess;
  let batch: BatchServiceClient;
  const agents: ChildProcess[] = [];
  const roots: string[] = [];

  const remoteAgent = (poolId: string, batchUrl?: string) => {
    const agent = startRemoteAgent(kiln, poolId, batchUrl);
    agents.push(agent.child);
    roots.push(agent.root);
    return agent;
  };

  /** Adds the ledger task to a new job on the pool and waits until its first run is alive. */
  const runLedgerTask = async (poolId: string, ledger: Ledger): Promise<string> => {
    const jobId = `${poolId}-job`;
    await batch.job.add({ id: jobId, poolInfo: { poolId } });
    await batch.task.add(jobId, { id: 'twice', commandLine: ledger.commandLine });
    await waitFor('the first run to be alive', () => {
      const [first] = ledger.starts();
      return first && ledger.beats(first.run) > 2 ? true : undefined;
    });
    const task = await batch.task.get(jobId, 'twice');
    assert.equal(task.state, 'running');
    return task.nodeInfo!.nodeId!;
  };

  const secondRun = (ledger: Ledger) => waitFor('the requeued run to start', () => (ledger.starts().length >= 2 ? true : undefined), 30_000);

  before(async () => {
    kiln = await startKiln({ extraArgs: ['--node-lost-after', String(LOST_AFTER_MS)] });
    batch = kiln.batchClient();
  });

  after(async () => {
    for (const job of ['remote-job', 'frozen-job', 'local-job', 'hung-job', 'taken-job', 'cut-job']) await batch.job.terminate(job).catch(() => undefined);
    for (const agent of agents) killProcessGroup(agent);
    // The SIGKILLed remote agents never left their pools: their machine's users are removed here.
    for (const root of roots) releaseNodeUsers(root);
    await kiln.stop();
    for (const dir of [...roots, kiln.dataDir, kiln.nodesDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a remote agent SIGKILLed: its runs die with it, long before the task runs elsewhere', async () => {
    await batch.pool.add({ id: 'remote', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const first = remoteAgent('remote');
    await waitForNodes(batch, 'remote', 1);
    const ledger = new Ledger();
    await runLedgerTask('remote', ledger);
    remoteAgent('remote');
    await waitForNodes(batch, 'remote', 2, ['idle', 'running']);

    const killedAt = nowNs();
    process.kill(first.child.pid!, 'SIGKILL');
    await secondRun(ledger);
    const { first: run } = ledger.assertNoOverlap();
    // Gone within a second of the kill (the agent's reaper), not only once the server gave up on the node.
    assert.ok(ledger.lastAlive(run) - killedAt < 1_000_000_000n, `the first run lived ${(ledger.lastAlive(run) - killedAt) / 1_000_000n} ms after its agent`);
  });

  it('a remote agent that hangs (SIGSTOP): its reaper kills its runs before the server requeues them', async () => {
    await batch.pool.add({ id: 'frozen', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const frozen = remoteAgent('frozen');
    await waitForNodes(batch, 'frozen', 1);
    const ledger = new Ledger();
    await runLedgerTask('frozen', ledger);
    remoteAgent('frozen');
    await waitForNodes(batch, 'frozen', 2, ['idle', 'running']);

    const stoppedAt = nowNs();
    process.kill(frozen.child.pid!, 'SIGSTOP');
    try {
      await secondRun(ledger);
      const { first: run } = ledger.assertNoOverlap();
      const stoppedAfterMs = Number((ledger.lastAlive(run) - stoppedAt) / 1_000_000n);
      // Killed at the agent's cut-off (0.6 of the node-loss timeout) after its last call, not at the node's loss.
      assert.ok(stoppedAfterMs < 0.8 * LOST_AFTER_MS, `the hung agent's run lived ${stoppedAfterMs} ms after the agent stopped`);
    } finally {
      process.kill(frozen.child.pid!, 'SIGCONT');
    }
  });

  /** A one-node local pool runs the ledger task; its agent gets `signal`; the requeued run never overlaps the first. */
  const signalLocalAgent = async (poolId: string, signal: NodeJS.Signals): Promise<string> => {
    await batch.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', targetDedicatedNodes: 1, virtualMachineConfiguration: vm });
    await waitForNodes(batch, poolId, 1);
    const ledger = new Ledger();
    const nodeId = await runLedgerTask(poolId, ledger);
    const [agentPid] = agentPids(nodeId);
    assert.ok(agentPid, 'the local agent is running');
    process.kill(agentPid, signal);
    await secondRun(ledger);
    ledger.assertNoOverlap();
    return nodeId;
  };

  it("a local node's agent SIGKILLed: its runs are gone before kiln up requeues them", async () => {
    await signalLocalAgent('local', 'SIGKILL');
  });

  it("a local node's agent that hangs (SIGSTOP): kiln up kills it and its runs before requeuing them", async () => {
    const nodeId = await signalLocalAgent('hung', 'SIGSTOP');
    assert.match(kiln.output(), new RegExp(`node ${nodeId}: its agent stopped answering; killing it and its runs`));
  });

  it("a run requeued from a live node (remove nodes, requeue) stays its node's until the node lets it go", async () => {
    // The node's agent cannot hear the kill (its link is cut just before): the task must not start
    // elsewhere until that agent has stopped the run (its cut-off) or the node is lost.
    const proxy = new CuttableProxy(kiln.batchPort);
    const viaProxy = await proxy.listen();
    try {
      await batch.pool.add({ id: 'taken', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
      remoteAgent('taken', viaProxy);
      await waitForNodes(batch, 'taken', 1);
      const ledger = new Ledger();
      const nodeId = await runLedgerTask('taken', ledger);
      remoteAgent('taken');
      await waitForNodes(batch, 'taken', 2, ['idle', 'running']);
      await waitFor('the pool to be steady', async () => ((await batch.pool.get('taken')).allocationState === 'steady' ? true : undefined));

      proxy.cut();
      await batch.pool.removeNodes('taken', { nodeList: [nodeId], nodeDeallocationOption: 'requeue' });
      await secondRun(ledger);
      ledger.assertNoOverlap();
      const task = await batch.task.get('taken-job', 'twice');
      const nodes = (await batch.computeNode.list('taken')).map((n) => `${n.id} ${n.state}`);
      assert.notEqual(
        task.nodeInfo?.nodeId,
        nodeId,
        `the requeued run is on the other node: ${JSON.stringify(task.executionInfo)}; nodes ${nodes.join(', ')}; ledger ${JSON.stringify(ledger.starts().map((e) => String(e.ns)))}\n${kiln.output().slice(-3000)}`,
      );
      assert.equal(task.executionInfo?.requeueCount, 1);
      assert.equal(task.executionInfo?.retryCount, 0);
    } finally {
      await proxy.close();
    }
  });

  it('an agent cut off from its server stops its runs before the server requeues them, then joins again', async () => {
    const proxy = new CuttableProxy(kiln.batchPort);
    const viaProxy = await proxy.listen();
    try {
      await batch.pool.add({ id: 'cut', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
      const cut = remoteAgent('cut', viaProxy);
      await waitForNodes(batch, 'cut', 1);
      const ledger = new Ledger();
      const cutNode = await runLedgerTask('cut', ledger);
      remoteAgent('cut');
      await waitForNodes(batch, 'cut', 2, ['idle', 'running']);

      const cutAt = nowNs();
      proxy.cut();
      await secondRun(ledger);
      const { first: run } = ledger.assertNoOverlap();
      const stoppedAfterMs = Number((ledger.lastAlive(run) - cutAt) / 1_000_000n);
      assert.ok(stoppedAfterMs < LOST_AFTER_MS, `the cut-off agent stopped its run ${stoppedAfterMs} ms after the cut, not before the node-loss timeout`);
      assert.match(cut.output(), /no answer from the server/);
      const requeued = await batch.task.get('cut-job', 'twice');
      const nodes = (await batch.computeNode.list('cut')).map((n) => `${n.id} ${n.state}`);
      assert.notEqual(
        requeued.nodeInfo?.nodeId,
        cutNode,
        `the requeued run is on the other node: ${JSON.stringify(requeued.executionInfo)}; nodes ${nodes.join(', ')}\n${kiln.output().slice(-3000)}`,
      );

      // Back in touch: the agent joins again, and its node takes work.
      proxy.restore();
      await waitFor('the cut-off agent to join again', () => ((cut.output().match(/joined pool cut/g)?.length ?? 0) >= 2 ? true : undefined), 30_000);
    } finally {
      await proxy.close();
    }
  });
});
