import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { BatchContext } from '../../src/domain/batch/context.js';
import type { CloudPool, ComputeNode } from '../../src/domain/batch/models.js';
import { countPoolNodes, newNodeDoc, newNodeId, nodeJoined } from '../../src/domain/batch/nodes/lifecycle.js';
import { removeNodes } from '../../src/domain/batch/nodes/nodeOperations.js';
import { addPool } from '../../src/domain/batch/pools/addPool.js';
import { resizePool, stopResizePool } from '../../src/domain/batch/pools/resizePool.js';
import { sqliteBatchStore } from '../../src/persistence/batch/store.js';
import { openStorage, type Storage } from '../../src/persistence/storage.js';
import { allocationTimer } from '../../src/server/allocationTimer.js';
import { tempDir } from '../helpers/kiln.js';

/**
 * resizeTimeout on a clock the test sets: Kiln's own store (SQLite in a temporary data directory),
 * domain and allocation timer, with no server and no agents, so that a node whose agent never joins
 * is simply a node record the local nodes made (`creating`) that nothing ever takes, and the
 * 5-minute minimum timeout passes at once. (Azure's minimum is kept: a server cannot be told to
 * time out sooner, and its clock cannot be moved from outside; kiln.ts runs the same timer on the
 * real clock.)
 */
const T0 = Date.parse('2030-03-01T10:00:00.000Z');
const MIN = 60_000;
const vm = { imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts' }, nodeAgentSKUId: 'batch.node.ubuntu 22.04' };

describe('resizeTimeout on an injected clock', () => {
  const dataDir = tempDir();
  const storages: Storage[] = [];
  const open = () => {
    const storage = openStorage(dataDir);
    storages.push(storage);
    return sqliteBatchStore(storage.db);
  };
  after(() => storages.forEach((s) => s.close()));
  let store = open();
  let clock = T0;
  const changed: string[] = [];
  const ctx = (account: string): BatchContext => ({ store, account, now: new Date(clock), hooks: {} });
  const timer = (account: string) =>
    allocationTimer({ store, accounts: () => [account], hooks: { changed: (a) => changed.push(a) }, log: () => undefined, clock: () => new Date(clock) });

  const pool = async (account: string, id: string) => (await store.pools.get(account, id))!;
  const nodes = async (account: string, id: string) => (await store.nodes.list((await pool(account, id)).pk, { limit: 100 })).map((r) => JSON.parse(r.doc) as ComputeNode);
  /** What the local nodes do for a pool below its targets: a `creating` record per missing node. */
  const makeNodes = async (account: string, id: string, n: number): Promise<ComputeNode[]> => {
    const { pk, doc } = await pool(account, id);
    const made: ComputeNode[] = [];
    for (let i = 0; i < n; i++) {
      const node = newNodeDoc(ctx(account), doc, newNodeId(new Date(clock), i), true);
      await store.nodes.insert(pk, node);
      made.push(node);
    }
    return made;
  };
  /** An agent joins as the node: it starts, then is idle. */
  const join = async (account: string, id: string, node: ComputeNode) =>
    await store.tx(async () => {
      const { pk, doc } = await pool(account, id);
      await nodeJoined(ctx(account), pk, doc, node);
      await countPoolNodes(ctx(account), pk, doc);
    });
  const at = (ms: number) => (clock = T0 + ms);

  it('stops a resize at its timeout: steady, AllocationTimedout, the joined node kept, the one that never joined gone', async () => {
    const account = 'partial';
    at(0);
    await addPool(ctx(account), { id: 'p', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 2, resizeTimeout: 'PT5M' });
    assert.equal((await pool(account, 'p')).doc.allocationState, 'resizing');
    const [joined, never] = await makeNodes(account, 'p', 2);
    at(MIN);
    await join(account, 'p', joined!);
    const t = timer(account);
    try {
      assert.equal(await t.runNow(), T0 + 5 * MIN, 'armed for the deadline of the pool creation');
      at(5 * MIN - 1);
      await t.runNow();
      assert.equal((await pool(account, 'p')).doc.allocationState, 'resizing');
      at(5 * MIN);
      assert.equal(await t.runNow(), undefined, 'nothing left to time out');
      const done = (await pool(account, 'p')).doc as CloudPool;
      assert.equal(done.allocationState, 'steady');
      assert.equal(done.allocationStateTransitionTime, new Date(T0 + 5 * MIN).toISOString());
      assert.deepEqual(
        done.resizeErrors?.map((e) => e.code),
        ['AllocationTimedout'],
      );
      assert.match(done.resizeErrors![0]!.message, /resize timeout/);
      assert.equal(done.currentDedicatedNodes, 1);
      assert.equal(done.targetDedicatedNodes, 1);
      assert.deepEqual(
        (await nodes(account, 'p')).map((n) => [n.id, n.state]),
        [[joined!.id, 'idle']],
      );
      assert.ok(!(await nodes(account, 'p')).some((n) => n.id === never!.id));
      assert.deepEqual(
        changed.filter((a) => a === account),
        [account],
        'the local nodes hear of it (they stop the agent that never joined)',
      );
      // A new resize starts over: its errors go, and it has a clock of its own.
      await resizePool(ctx(account), 'p', { targetDedicatedNodes: 3, resizeTimeout: 'PT10M' });
      const again = (await pool(account, 'p')).doc;
      assert.equal(again.allocationState, 'resizing');
      assert.equal(again.resizeErrors, undefined);
      assert.equal(await t.runNow(), T0 + 15 * MIN);
    } finally {
      await t.close();
    }
  });

  it('a resize that completes in time clears its clock; a timeout under 5 minutes is refused', async () => {
    const account = 'intime';
    at(0);
    await addPool(ctx(account), { id: 'p', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1 });
    const t = timer(account);
    try {
      assert.equal(await t.runNow(), T0 + 15 * MIN, 'the default resizeTimeout is 15 minutes');
      const [node] = await makeNodes(account, 'p', 1);
      at(MIN);
      await join(account, 'p', node!);
      assert.equal((await pool(account, 'p')).doc.allocationState, 'steady');
      assert.equal(await t.runNow(), undefined);
      at(60 * MIN);
      await t.runNow();
      assert.equal((await pool(account, 'p')).doc.resizeErrors, undefined);
      for (const call of [
        async () => await resizePool(ctx(account), 'p', { targetDedicatedNodes: 2, resizeTimeout: 'PT4M59S' }),
        async () => await removeNodes(ctx(account), 'p', { nodeList: [node!.id], resizeTimeout: 'PT1M' }),
      ]) {
        await assert.rejects(call, (e: { status?: number; code?: string }) => e.status === 400 && e.code === 'InvalidPropertyValue');
      }
      assert.equal((await pool(account, 'p')).doc.allocationState, 'steady');
    } finally {
      await t.close();
    }
  });

  it('a stopped resize whose node never joins is steady at its deadline, with ResizeStopped', async () => {
    const account = 'stopped';
    at(0);
    await addPool(ctx(account), { id: 'p', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1, resizeTimeout: 'PT6M' });
    await makeNodes(account, 'p', 1);
    await stopResizePool(ctx(account), 'p');
    assert.equal((await pool(account, 'p')).doc.allocationState, 'stopping', 'the node coming is in flight');
    const t = timer(account);
    try {
      at(6 * MIN);
      await t.runNow();
      const done = (await pool(account, 'p')).doc;
      assert.equal(done.allocationState, 'steady');
      assert.deepEqual(
        done.resizeErrors?.map((e) => e.code),
        ['ResizeStopped'],
      );
      assert.deepEqual([done.currentDedicatedNodes, done.targetDedicatedNodes], [0, 0]);
      assert.deepEqual(await nodes(account, 'p'), []);
    } finally {
      await t.close();
    }
  });

  it('the deadline is stored with the pool: a server started again times the resize out', async () => {
    const account = 'restart';
    at(0);
    await addPool(ctx(account), { id: 'p', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetLowPriorityNodes: 1, resizeTimeout: 'PT5M' });
    storages.pop()!.close();
    store = open();
    // Down past the deadline: the first pass after the start times it out.
    at(20 * MIN);
    const t = timer(account);
    try {
      assert.equal(await t.runNow(), undefined);
      const done = (await pool(account, 'p')).doc;
      assert.equal(done.allocationState, 'steady');
      assert.deepEqual(
        done.resizeErrors?.map((e) => e.code),
        ['AllocationTimedout'],
      );
      assert.equal(done.targetLowPriorityNodes, 0);
    } finally {
      await t.close();
    }
  });
});
