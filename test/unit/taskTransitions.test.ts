import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { addJob } from '../../src/domain/batch/jobs/addJob.js';
import { terminateJob } from '../../src/domain/batch/jobs/terminateJob.js';
import type { CloudTask, NodeInfo } from '../../src/domain/batch/models.js';
import type { Json } from '../../src/domain/batch/schema/validate.js';
import { addTask, addTaskCollection } from '../../src/domain/batch/tasks/addTasks.js';
import { completeTask, type TaskOutcome } from '../../src/domain/batch/tasks/completeTask.js';
import { assignTask, markRunning, requeueTask, retryTask, unassignTask } from '../../src/domain/batch/tasks/dispatch.js';
import { reactivateTask } from '../../src/domain/batch/tasks/reactivateTask.js';
import { TASK_ENDED, terminateTask } from '../../src/domain/batch/tasks/terminateTask.js';
import { detail, iso, MIN, refusal, rejection, unitBatch } from './helpers.js';

const ON_NODE: NodeInfo = { nodeId: 'tvm-1', poolId: 'p', affinityId: 'TVM:tvm-1', nodeUrl: 'http://x/pools/p/nodes/tvm-1', taskRootDirectory: 'd', taskRootDirectoryUrl: 'u' };

describe('task transitions', async () => {
  const b = unitBatch();
  after(() => b.close());
  await addJob(b.ctx(), { id: 'j', poolInfo: { poolId: 'p' }, constraints: { maxTaskRetryCount: 2 } });
  await addJob(b.ctx(), { id: 'prep', poolInfo: { poolId: 'p' }, jobPreparationTask: { commandLine: 'true' } });
  /** Runs `change` on the stored task, in a transaction, then reads it back. */
  const change = async (jobId: string, taskId: string, fn: (pk: number, task: CloudTask) => unknown): Promise<CloudTask> => {
    await b.store.tx(async () => fn((await b.job(jobId)).pk, await b.task(jobId, taskId)));
    return b.task(jobId, taskId);
  };
  const assign = async (jobId: string, taskId: string) => await change(jobId, taskId, async (pk, t) => await assignTask(b.ctx(), pk, (await b.job(jobId)).doc, t, ON_NODE));
  const complete = async (jobId: string, taskId: string, outcome: TaskOutcome) =>
    await change(jobId, taskId, async (pk, t) => await completeTask(b.ctx(), pk, (await b.job(jobId)).doc, t, outcome));
  const add = async (jobId: string, id: string, extra: Json = {}) => await addTask(b.ctx(), jobId, { id, commandLine: 'true', ...(extra as object) });

  it("a new task is active, with the defaults Azure echoes and its job's retry count", async () => {
    b.at(0);
    const t = await add('j', 'defaults');
    assert.equal(t.state, 'active');
    assert.equal(t.creationTime, iso(0));
    assert.deepEqual(t.constraints, { maxWallClockTime: 'P10675199DT2H48M5.4775807S', retentionTime: 'P7D', maxTaskRetryCount: 2 });
    assert.equal(t.requiredSlots, 1);
    assert.deepEqual(t.executionInfo, { retryCount: 0, requeueCount: 0 });
    assert.deepEqual(t['userIdentity'], { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } });
    assert.equal((await add('j', 'own', { constraints: { maxTaskRetryCount: 0 } })).constraints.maxTaskRetryCount, 0);
  });

  it('given to a node: running at once, or preparing while the job preparation task runs there', async () => {
    b.at(MIN);
    await add('j', 'run');
    const running = await assign('j', 'run');
    assert.deepEqual([running.state, running.previousState, running.executionInfo.startTime, running.nodeInfo?.nodeId], ['running', 'active', iso(MIN), 'tvm-1']);
    await add('prep', 'p1');
    const preparing = await assign('prep', 'p1');
    assert.equal(preparing.state, 'preparing');
    assert.equal(preparing.executionInfo.startTime, undefined);
    b.at(2 * MIN);
    const started = await change('prep', 'p1', async (pk, t) => await markRunning(b.ctx(), pk, t));
    assert.deepEqual([started.state, started.executionInfo.startTime], ['running', iso(2 * MIN)]);
  });

  it('requeued: back to active, counted as a requeue, not a retry; off its node', async () => {
    await add('j', 'rq');
    await assign('j', 'rq');
    b.at(3 * MIN);
    const t = await change('j', 'rq', async (pk, task) => await requeueTask(b.ctx(), pk, task));
    assert.deepEqual([t.state, t.executionInfo.requeueCount, t.executionInfo.retryCount, t.executionInfo.lastRequeueTime, t.nodeInfo], ['active', 1, 0, iso(3 * MIN), undefined]);
  });

  it('unassigned (could not start on its node): back to active, counting nothing', async () => {
    await add('prep', 'un');
    await assign('prep', 'un');
    const t = await change('prep', 'un', async (pk, task) => await unassignTask(b.ctx(), pk, task));
    assert.deepEqual([t.state, t.executionInfo.requeueCount, t.executionInfo.retryCount, t.nodeInfo, t.executionInfo.startTime], ['active', 0, 0, undefined, undefined]);
  });

  it('retried after a failed run while retries are left; then not', async () => {
    await add('j', 'rt');
    for (const n of [1, 2]) {
      await assign('j', 'rt');
      let retried = false;
      const t = await change('j', 'rt', async (pk, task) => (retried = await retryTask(b.ctx(), pk, task)));
      assert.equal(retried, true);
      assert.deepEqual([t.state, t.executionInfo.retryCount, t.nodeInfo], ['active', n, undefined]);
    }
    await assign('j', 'rt');
    let retried = true;
    const t = await change('j', 'rt', async (pk, task) => (retried = await retryTask(b.ctx(), pk, task)));
    assert.equal(retried, false, 'maxTaskRetryCount 2: two retries');
    assert.deepEqual([t.state, t.executionInfo.retryCount], ['running', 2], 'left as it was, for the caller to complete');
  });

  it('maxTaskRetryCount -1 retries without end; 0 never', async () => {
    await add('j', 'forever', { constraints: { maxTaskRetryCount: -1 } });
    for (let n = 0; n < 5; n++) {
      await assign('j', 'forever');
      await change('j', 'forever', async (pk, task) => assert.equal(await retryTask(b.ctx(), pk, task), true));
    }
    assert.equal((await b.task('j', 'forever')).executionInfo.retryCount, 5);
    await add('j', 'never', { constraints: { maxTaskRetryCount: 0 } });
    await assign('j', 'never');
    await change('j', 'never', async (pk, task) => assert.equal(await retryTask(b.ctx(), pk, task), false));
  });

  it('completed: success only for exit code 0 without a failure', async () => {
    const cases: [TaskOutcome, 'success' | 'failure'][] = [
      [{ exitCode: 0 }, 'success'],
      [{ exitCode: 3 }, 'failure'],
      [{ exitCode: 0, failureInfo: { category: 'usererror', code: 'FileUploadMiscError' } }, 'failure'],
      [{ failureInfo: { category: 'servererror', code: 'X' } }, 'failure'],
    ];
    for (const [i, [outcome, result]] of cases.entries()) {
      await add('j', `c${i}`);
      await assign('j', `c${i}`);
      b.at(10 * MIN);
      const t = await complete('j', `c${i}`, outcome);
      assert.equal(t.state, 'completed');
      assert.equal(t.executionInfo.result, result, JSON.stringify(outcome));
      assert.equal(t.executionInfo.endTime, iso(10 * MIN));
      assert.equal(t.executionInfo.exitCode, outcome.exitCode);
      assert.deepEqual(t.executionInfo.failureInfo, outcome.failureInfo);
    }
  });

  it('terminated by its user: completed with TaskEnded, the taskEnded hook told; a completed task refuses', async () => {
    await add('j', 'term');
    await assign('j', 'term');
    await terminateTask(b.ctx(), 'j', 'term');
    const t = await b.task('j', 'term');
    assert.deepEqual([t.state, t.executionInfo.result, t.executionInfo.failureInfo], ['completed', 'failure', TASK_ENDED]);
    assert.deepEqual(b.hooks.at(-1), ['taskEnded', 'term']);
    await assert.rejects(async () => await terminateTask(b.ctx(), 'j', 'term'), refusal(409, 'TaskCompleted'));
    await assert.rejects(async () => await terminateTask(b.ctx(), 'j', 'nope'), refusal(404, 'TaskNotFound'));
    await assert.rejects(async () => await terminateTask(b.ctx(), 'nope', 'term'), refusal(404, 'JobNotFound'));
  });

  it('reactivated after a failure: active, retries from 0, requeues kept; a success or an unfinished task refuses', async () => {
    await add('j', 'again');
    await assign('j', 'again');
    await change('j', 'again', async (pk, task) => await requeueTask(b.ctx(), pk, task));
    await assign('j', 'again');
    await change('j', 'again', async (pk, task) => await retryTask(b.ctx(), pk, task));
    await assert.rejects(async () => await reactivateTask(b.ctx(), 'j', 'again'), refusal(409, 'TaskNotCompleted'));
    await assign('j', 'again');
    await complete('j', 'again', { exitCode: 1 });
    const t = await reactivateTask(b.ctx(), 'j', 'again');
    assert.equal(t.state, 'active');
    assert.deepEqual(t.executionInfo, { retryCount: 0, requeueCount: 1 });
    assert.equal(t.nodeInfo, undefined);
    await add('j', 'fine');
    await complete('j', 'fine', { exitCode: 0 });
    await assert.rejects(async () => await reactivateTask(b.ctx(), 'j', 'fine'), refusal(409, 'TaskSucceeded'));
  });

  it('adding: a duplicate id (without case) is TaskExists; dependencies need the job to use them; no task depends on itself', async () => {
    await add('j', 'Dup');
    await assert.rejects(async () => await add('j', 'dup'), refusal(409, 'TaskExists'));
    await assert.rejects(async () => await add('j', 'dep', { dependsOn: { taskIds: ['x'] } }), refusal(400, 'TaskDependenciesNotSpecifiedOnJob'));
    await addJob(b.ctx(), { id: 'deps', poolInfo: { poolId: 'p' }, usesTaskDependencies: true });
    assert.equal(detail(await rejection(async () => await add('deps', 'self', { dependsOn: { taskIds: ['other', 'SELF'] } })), 'PropertyName'), 'dependsOn.taskIds[1]');
    assert.equal(
      detail(
        await rejection(
          async () =>
            await add('deps', '5', {
              dependsOn: {
                taskIdRanges: [
                  { start: 1, end: 3 },
                  { start: 4, end: 9 },
                ],
              },
            }),
        ),
        'PropertyName',
      ),
      'dependsOn.taskIdRanges[1]',
    );
    assert.equal(detail(await rejection(async () => await add('deps', 'r', { dependsOn: { taskIdRanges: [{ start: 3, end: 1 }] } })), 'PropertyName'), 'dependsOn.taskIdRanges[0]');
    // '05' is not the number a range names.
    await add('deps', '05', { dependsOn: { taskIdRanges: [{ start: 1, end: 9 }] } });
  });

  it('a job action in exit conditions needs onTaskFailure performexitoptionsjobaction', async () => {
    const exitConditions = { default: { jobAction: 'terminate' } };
    assert.equal(detail(await rejection(async () => await add('j', 'ja', { exitConditions })), 'PropertyName'), 'exitConditions');
    await addJob(b.ctx(), { id: 'acts', poolInfo: { poolId: 'p' }, onTaskFailure: 'performexitoptionsjobaction' });
    await add('acts', 'ja', { exitConditions });
  });

  it('a collection: each task added or refused on its own; more than 100 refuse the request', async () => {
    const results = await addTaskCollection(b.ctx(), 'j', {
      value: [
        { id: 'k1', commandLine: 'true' },
        { id: 'K1', commandLine: 'true' },
        { id: 'bad id', commandLine: 'true' },
        { id: 'k2', commandLine: 'true' },
      ],
    });
    assert.deepEqual(
      results.map((r) => [r.taskId, r.status, r.status === 'success' ? undefined : r.error.code]),
      [
        ['k1', 'success', undefined],
        ['K1', 'clienterror', 'TaskExists'],
        ['bad id', 'clienterror', 'InvalidPropertyValue'],
        ['k2', 'success', undefined],
      ],
    );
    assert.equal((await b.task('j', 'k2')).state, 'active');
    const tooMany = { value: Array.from({ length: 101 }, (_, i) => ({ id: `m${i}`, commandLine: 'true' })) };
    await assert.rejects(async () => await addTaskCollection(b.ctx(), 'j', tooMany), refusal(400, 'InvalidPropertyValue'));
    await assert.rejects(async () => await addTaskCollection(b.ctx(), 'j', { value: [], extra: 1 }), refusal(400, 'InvalidRequestBody'));
    await assert.rejects(async () => await addTaskCollection(b.ctx(), 'j', {}), refusal(400, 'MissingRequiredProperty'));
  });

  it('no task is added to a job that is ending or over', async () => {
    await addJob(b.ctx(), { id: 'over', poolInfo: { poolId: 'p' } });
    await terminateJob(b.ctx(), 'over', {});
    await assert.rejects(async () => await add('over', 't'), refusal(409, 'JobCompleted'));
    await addJob(b.ctx(), { id: 'ending', poolInfo: { poolId: 'p' } });
    await add('ending', 'busy');
    await assign('ending', 'busy');
    await terminateJob(b.ctx(), 'ending', {});
    await assert.rejects(async () => await add('ending', 't'), refusal(409, 'JobBeingTerminated'));
  });
});
