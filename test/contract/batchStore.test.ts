import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchContext } from '../../src/domain/batch/context.js';
import type { CloudJob, CloudTask } from '../../src/domain/batch/models.js';
import { addJob } from '../../src/domain/batch/jobs/addJob.js';
import { newNodeDoc } from '../../src/domain/batch/nodes/lifecycle.js';
import { addPool } from '../../src/domain/batch/pools/addPool.js';
import type { BatchStore } from '../../src/domain/batch/store.js';
import { addTaskCollection } from '../../src/domain/batch/tasks/addTasks.js';
import { batchStoreFactories, type OpenedBatchStore } from './batchStores.js';

/**
 * What the domain relies on from a Batch store (src/domain/batch/store.ts), whatever holds the data:
 * ids unique without case, lists in id order page by page, the queries the scheduler and the API use,
 * and units of work that commit whole or not at all, one at a time, with their after-commit work run
 * only once committed. Entities are made by the domain itself, so their documents are real ones.
 */
const VM = { imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts' }, nodeAgentSKUId: 'batch.node.ubuntu 22.04' };

for (const factory of batchStoreFactories) {
  describe(`Batch store contract: ${factory.name}`, () => {
    let opened: OpenedBatchStore;
    let store: BatchStore;
    const ctx = (account = 'acct'): BatchContext => ({ store, account, now: new Date('2030-01-01T00:00:00Z'), hooks: {} });
    before(async () => {
      opened = await factory.open();
      store = opened.store;
    });
    after(() => opened.close());

    const job = async (account: string, id: string) => (await store.jobs.get(account, id))!;
    const task = (jobPk: number, id: string) => store.tasks.get(jobPk, id);

    it('finds entities by id without case, per account, and updates and deletes them', async () => {
      await addPool(ctx(), { id: 'Pool-A', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: VM });
      const found = await store.pools.get('acct', 'POOL-a');
      assert.equal(found?.doc.id, 'Pool-A');
      assert.equal(await store.pools.exists('acct', 'pool-a'), true);
      assert.equal(await store.pools.get('other', 'pool-a'), undefined, 'another account does not see it');
      assert.deepEqual((await store.pools.getByPk(found!.pk))?.doc, found!.doc);
      found!.doc.displayName = 'changed';
      await store.pools.update('acct', found!.doc);
      assert.equal((await store.pools.get('acct', 'pool-a'))?.doc.displayName, 'changed');
      await store.pools.delete('acct', 'POOL-A');
      assert.equal(await store.pools.exists('acct', 'pool-a'), false);
    });

    it('lists in id order, page after page, with conditions on the indexed columns', async () => {
      for (const id of ['b', 'A', 'c', 'd-1']) await addPool(ctx('lists'), { id, vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: VM });
      const first = await store.pools.list('lists', { limit: 2 });
      assert.deepEqual(
        first.map((r) => r.id),
        ['A', 'b'],
      );
      const rest = await store.pools.list('lists', { afterKey: first[1]!.id_key, limit: 10 });
      assert.deepEqual(
        rest.map((r) => r.id),
        ['c', 'd-1'],
      );
      assert.equal((JSON.parse(rest[0]!.doc) as { id: string }).id, 'c', 'rows carry the stored document');
      assert.deepEqual(
        (await store.pools.all('lists')).map((p) => p.doc.id),
        ['A', 'b', 'c', 'd-1'],
      );
    });

    it("answers the scheduler's and the API's task queries", async () => {
      await addJob(ctx(), { id: 'queries', poolInfo: { poolId: 'p' }, usesTaskDependencies: true });
      await addTaskCollection(ctx(), 'queries', {
        value: ['9', '10', '11', 'x', '010'].map((id) => ({ id, commandLine: 'true', requiredSlots: 1 })),
      });
      const { pk } = await job('acct', 'queries');
      assert.deepEqual(
        (await store.tasks.active(pk, '', 10)).map((t) => t.doc.id),
        ['010', '10', '11', '9', 'x'],
        'active tasks in id order',
      );
      assert.deepEqual(
        (await store.tasks.active(pk, '11', 2)).map((t) => t.doc.id),
        ['9', 'x'],
      );
      assert.deepEqual(
        (await store.tasks.withNumberIdsIn(pk, 9, 10)).map((r) => r.n),
        [9, 10],
        "ids that are numbers as a range names them ('010' is not 10)",
      );
      assert.deepEqual(
        (await store.tasks.withIds(pk, ['X', 'nope'])).map((r) => r.key),
        ['x'],
      );
      const done = (await task(pk, 'x'))!.doc;
      done.state = 'completed';
      done.executionInfo.result = 'success';
      await store.tasks.update(pk, done);
      const counts = await store.tasks.counts(pk);
      assert.deepEqual(counts.taskCounts, { active: 4, running: 0, completed: 1, succeeded: 1, failed: 0 });
      assert.deepEqual(
        (await store.tasks.inStates(pk, ['completed'])).map((t) => t.id),
        ['x'],
      );
      assert.equal(await store.tasks.hasUnfinished(pk), true);
    });

    it('finds the jobs of a pool and those with a wall-clock constraint; deleting a job deletes its tasks', async () => {
      await addJob(ctx('jobs'), { id: 'on-p', poolInfo: { poolId: 'P' } });
      await addJob(ctx('jobs'), { id: 'limited', poolInfo: { poolId: 'q' }, constraints: { maxWallClockTime: 'PT1H' } });
      await addTaskCollection(ctx('jobs'), 'on-p', { value: [{ id: 't', commandLine: 'true' }] });
      assert.deepEqual(
        (await store.jobs.onPool('jobs', 'p')).map((j) => j.doc.id),
        ['on-p'],
      );
      assert.ok((await store.jobs.timeLimited('jobs')).some((j) => j.doc.id === 'limited'));
      const { pk } = await job('jobs', 'on-p');
      await store.jobs.deleteByPk(pk);
      assert.equal(await store.jobs.getByPk(pk), undefined);
      assert.equal(await task(pk, 't'), undefined);
    });

    it('gives every job a uid of its own, never a deleted one’s, and finds a job by it within its account', async () => {
      await addJob(ctx('uids'), { id: 'again', poolInfo: { poolId: 'p' } });
      const first = await job('uids', 'again');
      assert.match(first.uid, /^[0-9a-f]{32}$/);
      assert.deepEqual(await store.jobs.getByUid('uids', first.uid), first);
      assert.equal(await store.jobs.getByUid('other', first.uid), undefined, 'another account does not see it');
      assert.equal((await store.jobs.getByPk(first.pk))?.uid, first.uid);
      assert.equal((await store.jobs.onPool('uids', 'p'))[0]?.uid, first.uid);
      // The last job made goes, and a new one of its id comes (SQLite may give it the same row key).
      await store.jobs.deleteByPk(first.pk);
      await addJob(ctx('uids'), { id: 'again', poolInfo: { poolId: 'p' } });
      const second = await job('uids', 'again');
      assert.notEqual(second.uid, first.uid);
      assert.equal(await store.jobs.getByUid('uids', first.uid), undefined);
      assert.equal((await store.jobs.getByUid('uids', second.uid))?.doc.id, 'again');
    });

    it('counts a pool’s nodes by state and kind', async () => {
      const pool = await addPool(ctx('nodes'), { id: 'n', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: VM });
      const { pk } = (await store.pools.get('nodes', 'n'))!;
      for (const [i, dedicated] of [true, true, false].entries()) await store.nodes.insert(pk, newNodeDoc(ctx('nodes'), pool, `node-${i}`, dedicated));
      assert.equal(await store.nodes.count(pk), 3);
      const byState = (await store.nodes.countByState(pk)).map((r) => [r.state, Boolean(r.dedicated), r.n]);
      assert.deepEqual(
        byState.sort(),
        [
          ['creating', false, 1],
          ['creating', true, 2],
        ].sort(),
      );
    });

    it('a unit of work commits whole or not at all, and its after-commit work runs only once committed', async () => {
      await addJob(ctx('tx'), { id: 'tx', poolInfo: { poolId: 'p' } });
      const ran: string[] = [];
      await assert.rejects(
        store.tx(async () => {
          const j = await job('tx', 'tx');
          j.doc.displayName = 'never';
          await store.jobs.update('tx', j.doc);
          store.afterCommit(() => ran.push('rolled back'));
          throw new Error('abandon');
        }),
        /abandon/,
      );
      assert.equal((await job('tx', 'tx')).doc.displayName, undefined, 'nothing of it stays');
      await store.tx(async () => {
        const j = await job('tx', 'tx');
        j.doc.displayName = 'kept';
        await store.jobs.update('tx', j.doc);
        store.afterCommit(() => ran.push(`committed: ${(j.doc as CloudJob).displayName}`));
        await store.tx(async () => store.afterCommit(() => ran.push('nested joins the outer')));
        assert.deepEqual(ran, [], 'not before the commit');
      });
      assert.deepEqual(ran, ['committed: kept', 'nested joins the outer']);
    });

    it('units of work run one at a time: no update is lost, nothing uncommitted is seen', async () => {
      await addJob(ctx('race'), { id: 'counter', poolInfo: { poolId: 'p' }, priority: 0 });
      const bump = () =>
        store.tx(async () => {
          const j = await job('race', 'counter');
          await new Promise((r) => setImmediate(r)); // others get to run meanwhile
          j.doc.priority = (j.doc.priority ?? 0) + 1;
          await store.jobs.update('race', j.doc);
        });
      const seen: (number | undefined)[] = [];
      const peek = async () => seen.push((await job('race', 'counter')).doc.priority);
      await Promise.all([bump(), peek(), bump(), peek(), bump()]);
      assert.equal((await job('race', 'counter')).doc.priority, 3);
      for (const value of seen) assert.ok([0, 1, 2, 3].includes(value!), `a committed value, not a torn one: ${value}`);
    });

    it('inserts many tasks at once', async () => {
      await addJob(ctx('many'), { id: 'many', poolInfo: { poolId: 'p' } });
      const { pk } = await job('many', 'many');
      const template = (await store.tasks.list(pk, { limit: 1 }))[0];
      assert.equal(template, undefined);
      await addTaskCollection(ctx('many'), 'many', { value: Array.from({ length: 100 }, (_, i) => ({ id: `t${i}`, commandLine: 'true' })) });
      assert.equal((await store.tasks.list(pk, { limit: 1000 })).length, 100);
      const docs = (await store.tasks.inStates(pk, ['active'])).slice(0, 2).map((t): CloudTask => ({ ...t, id: `${t.id}-copy` }));
      await store.tasks.addAll(pk, docs);
      assert.equal((await store.tasks.counts(pk)).taskCounts.active, 102);
    });
  });
}
