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
import { detail, iso, MIN, refusal, thrown, unitBatch } from './helpers.js';

const ON_NODE: NodeInfo = { nodeId: 'tvm-1', poolId: 'p', affinityId: 'TVM:tvm-1', nodeUrl: 'http://x/pools/p/nodes/tvm-1', taskRootDirectory: 'd', taskRootDirectoryUrl: 'u' };

describe('task transitions', () => {
  const b = unitBatch();
  after(() => b.close());
  addJob(b.ctx(), { id: 'j', poolInfo: { poolId: 'p' }, constraints: { maxTaskRetryCount: 2 } });
  addJob(b.ctx(), { id: 'prep', poolInfo: { poolId: 'p' }, jobPreparationTask: { commandLine: 'true' } });
  /** Runs `change` on the stored task, in a transaction, then reads it back. */
  const change = (jobId: string, taskId: string, fn: (pk: number, task: CloudTask) => unknown): CloudTask => {
    b.store.tx(() => fn(b.job(jobId).pk, b.task(jobId, taskId)));
    return b.task(jobId, taskId);
  };
  const assign = (jobId: string, taskId: string) => change(jobId, taskId, (pk, t) => assignTask(b.ctx(), pk, b.job(jobId).doc, t, ON_NODE));
  const complete = (jobId: string, taskId: string, outcome: TaskOutcome) => change(jobId, taskId, (pk, t) => completeTask(b.ctx(), pk, b.job(jobId).doc, t, outcome));
  const add = (jobId: string, id: string, extra: Json = {}) => addTask(b.ctx(), jobId, { id, commandLine: 'true', ...(extra as object) });

  it("a new task is active, with the defaults Azure echoes and its job's retry count", () => {
    b.at(0);
    const t = add('j', 'defaults');
    assert.equal(t.state, 'active');
    assert.equal(t.creationTime, iso(0));
    assert.deepEqual(t.constraints, { maxWallClockTime: 'P10675199DT2H48M5.4775807S', retentionTime: 'P7D', maxTaskRetryCount: 2 });
    assert.equal(t.requiredSlots, 1);
    assert.deepEqual(t.executionInfo, { retryCount: 0, requeueCount: 0 });
    assert.deepEqual(t['userIdentity'], { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } });
    assert.equal(add('j', 'own', { constraints: { maxTaskRetryCount: 0 } }).constraints.maxTaskRetryCount, 0);
  });

  it('given to a node: running at once, or preparing while the job preparation task runs there', () => {
    b.at(MIN);
    add('j', 'run');
    const running = assign('j', 'run');
    assert.deepEqual([running.state, running.previousState, running.executionInfo.startTime, running.nodeInfo?.nodeId], ['running', 'active', iso(MIN), 'tvm-1']);
    add('prep', 'p1');
    const preparing = assign('prep', 'p1');
    assert.equal(preparing.state, 'preparing');
    assert.equal(preparing.executionInfo.startTime, undefined);
    b.at(2 * MIN);
    const started = change('prep', 'p1', (pk, t) => markRunning(b.ctx(), pk, t));
    assert.deepEqual([started.state, started.executionInfo.startTime], ['running', iso(2 * MIN)]);
  });

  it('requeued: back to active, counted as a requeue, not a retry; off its node', () => {
    add('j', 'rq');
    assign('j', 'rq');
    b.at(3 * MIN);
    const t = change('j', 'rq', (pk, task) => requeueTask(b.ctx(), pk, task));
    assert.deepEqual([t.state, t.executionInfo.requeueCount, t.executionInfo.retryCount, t.executionInfo.lastRequeueTime, t.nodeInfo], ['active', 1, 0, iso(3 * MIN), undefined]);
  });

  it('unassigned (could not start on its node): back to active, counting nothing', () => {
    add('prep', 'un');
    assign('prep', 'un');
    const t = change('prep', 'un', (pk, task) => unassignTask(b.ctx(), pk, task));
    assert.deepEqual([t.state, t.executionInfo.requeueCount, t.executionInfo.retryCount, t.nodeInfo, t.executionInfo.startTime], ['active', 0, 0, undefined, undefined]);
  });

  it('retried after a failed run while retries are left; then not', () => {
    add('j', 'rt');
    for (const n of [1, 2]) {
      assign('j', 'rt');
      let retried = false;
      const t = change('j', 'rt', (pk, task) => (retried = retryTask(b.ctx(), pk, task)));
      assert.equal(retried, true);
      assert.deepEqual([t.state, t.executionInfo.retryCount, t.nodeInfo], ['active', n, undefined]);
    }
    assign('j', 'rt');
    let retried = true;
    const t = change('j', 'rt', (pk, task) => (retried = retryTask(b.ctx(), pk, task)));
    assert.equal(retried, false, 'maxTaskRetryCount 2: two retries');
    assert.deepEqual([t.state, t.executionInfo.retryCount], ['running', 2], 'left as it was, for the caller to complete');
  });

  it('maxTaskRetryCount -1 retries without end; 0 never', () => {
    add('j', 'forever', { constraints: { maxTaskRetryCount: -1 } });
    for (let n = 0; n < 5; n++) {
      assign('j', 'forever');
      change('j', 'forever', (pk, task) => assert.equal(retryTask(b.ctx(), pk, task), true));
    }
    assert.equal(b.task('j', 'forever').executionInfo.retryCount, 5);
    add('j', 'never', { constraints: { maxTaskRetryCount: 0 } });
    assign('j', 'never');
    change('j', 'never', (pk, task) => assert.equal(retryTask(b.ctx(), pk, task), false));
  });

  it('completed: success only for exit code 0 without a failure', () => {
    const cases: [TaskOutcome, 'success' | 'failure'][] = [
      [{ exitCode: 0 }, 'success'],
      [{ exitCode: 3 }, 'failure'],
      [{ exitCode: 0, failureInfo: { category: 'usererror', code: 'FileUploadMiscError' } }, 'failure'],
      [{ failureInfo: { category: 'servererror', code: 'X' } }, 'failure'],
    ];
    cases.forEach(([outcome, result], i) => {
      add('j', `c${i}`);
      assign('j', `c${i}`);
      b.at(10 * MIN);
      const t = complete('j', `c${i}`, outcome);
      assert.equal(t.state, 'completed');
      assert.equal(t.executionInfo.result, result, JSON.stringify(outcome));
      assert.equal(t.executionInfo.endTime, iso(10 * MIN));
      assert.equal(t.executionInfo.exitCode, outcome.exitCode);
      assert.deepEqual(t.executionInfo.failureInfo, outcome.failureInfo);
    });
  });

  it('terminated by its user: completed with TaskEnded, the taskEnded hook told; a completed task refuses', () => {
    add('j', 'term');
    assign('j', 'term');
    terminateTask(b.ctx(), 'j', 'term');
    const t = b.task('j', 'term');
    assert.deepEqual([t.state, t.executionInfo.result, t.executionInfo.failureInfo], ['completed', 'failure', TASK_ENDED]);
    assert.deepEqual(b.hooks.at(-1), ['taskEnded', 'term']);
    assert.throws(() => terminateTask(b.ctx(), 'j', 'term'), refusal(409, 'TaskCompleted'));
    assert.throws(() => terminateTask(b.ctx(), 'j', 'nope'), refusal(404, 'TaskNotFound'));
    assert.throws(() => terminateTask(b.ctx(), 'nope', 'term'), refusal(404, 'JobNotFound'));
  });

  it('reactivated after a failure: active, retries from 0, requeues kept; a success or an unfinished task refuses', () => {
    add('j', 'again');
    assign('j', 'again');
    change('j', 'again', (pk, task) => requeueTask(b.ctx(), pk, task));
    assign('j', 'again');
    change('j', 'again', (pk, task) => retryTask(b.ctx(), pk, task));
    assert.throws(() => reactivateTask(b.ctx(), 'j', 'again'), refusal(409, 'TaskNotCompleted'));
    assign('j', 'again');
    complete('j', 'again', { exitCode: 1 });
    const t = reactivateTask(b.ctx(), 'j', 'again');
    assert.equal(t.state, 'active');
    assert.deepEqual(t.executionInfo, { retryCount: 0, requeueCount: 1 });
    assert.equal(t.nodeInfo, undefined);
    add('j', 'fine');
    complete('j', 'fine', { exitCode: 0 });
    assert.throws(() => reactivateTask(b.ctx(), 'j', 'fine'), refusal(409, 'TaskSucceeded'));
  });

  it('adding: a duplicate id (without case) is TaskExists; dependencies need the job to use them; no task depends on itself', () => {
    add('j', 'Dup');
    assert.throws(() => add('j', 'dup'), refusal(409, 'TaskExists'));
    assert.throws(() => add('j', 'dep', { dependsOn: { taskIds: ['x'] } }), refusal(400, 'TaskDependenciesNotSpecifiedOnJob'));
    addJob(b.ctx(), { id: 'deps', poolInfo: { poolId: 'p' }, usesTaskDependencies: true });
    assert.equal(
      detail(
        thrown(() => add('deps', 'self', { dependsOn: { taskIds: ['other', 'SELF'] } })),
        'PropertyName',
      ),
      'dependsOn.taskIds[1]',
    );
    assert.equal(
      detail(
        thrown(() =>
          add('deps', '5', {
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
    assert.equal(
      detail(
        thrown(() => add('deps', 'r', { dependsOn: { taskIdRanges: [{ start: 3, end: 1 }] } })),
        'PropertyName',
      ),
      'dependsOn.taskIdRanges[0]',
    );
    // '05' is not the number a range names.
    add('deps', '05', { dependsOn: { taskIdRanges: [{ start: 1, end: 9 }] } });
  });

  it('a job action in exit conditions needs onTaskFailure performexitoptionsjobaction', () => {
    const exitConditions = { default: { jobAction: 'terminate' } };
    assert.equal(
      detail(
        thrown(() => add('j', 'ja', { exitConditions })),
        'PropertyName',
      ),
      'exitConditions',
    );
    addJob(b.ctx(), { id: 'acts', poolInfo: { poolId: 'p' }, onTaskFailure: 'performexitoptionsjobaction' });
    add('acts', 'ja', { exitConditions });
  });

  it('a collection: each task added or refused on its own; more than 100 refuse the request', () => {
    const results = addTaskCollection(b.ctx(), 'j', {
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
    assert.equal(b.task('j', 'k2').state, 'active');
    const tooMany = { value: Array.from({ length: 101 }, (_, i) => ({ id: `m${i}`, commandLine: 'true' })) };
    assert.throws(() => addTaskCollection(b.ctx(), 'j', tooMany), refusal(400, 'InvalidPropertyValue'));
    assert.throws(() => addTaskCollection(b.ctx(), 'j', { value: [], extra: 1 }), refusal(400, 'InvalidRequestBody'));
    assert.throws(() => addTaskCollection(b.ctx(), 'j', {}), refusal(400, 'MissingRequiredProperty'));
  });

  it('no task is added to a job that is ending or over', () => {
    addJob(b.ctx(), { id: 'over', poolInfo: { poolId: 'p' } });
    terminateJob(b.ctx(), 'over', {});
    assert.throws(() => add('over', 't'), refusal(409, 'JobCompleted'));
    addJob(b.ctx(), { id: 'ending', poolInfo: { poolId: 'p' } });
    add('ending', 'busy');
    assign('ending', 'busy');
    terminateJob(b.ctx(), 'ending', {});
    assert.throws(() => add('ending', 't'), refusal(409, 'JobBeingTerminated'));
  });
});
