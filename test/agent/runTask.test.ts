import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { NodeLayout } from '../../src/agent/layout.js';
import { runTask, type TaskRunSpec } from '../../src/agent/runTask.js';
import { closeNodeRuns } from '../../src/agent/exec/containment.js';
import { canSeparateUsers, releaseNodeUsers } from '../../src/agent/users.js';
import { tempDir } from '../helpers/kiln.js';

const node = { accountName: 'acct', accountUrl: 'http://127.0.0.1:10100/', poolId: 'pool1', nodeId: 'tvm-1', isDedicated: true };
const base: TaskRunSpec = { commandLine: '/bin/true', resourceFiles: [], environmentSettings: [], outputFiles: [], elevated: false, userIdentity: 'PoolNonAdmin' };

describe('running a task on a node', () => {
  const root = tempDir('kiln-run-');
  fs.chmodSync(root, 0o755);
  const layout = new NodeLayout(root);
  layout.prepare();
  after(() => {
    // The runs' groups and the pool user the non-admin runs were given go with the node.
    closeNodeRuns(root);
    releaseNodeUsers(root);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('takes back a users lock left empty by a process killed as it made it (the suite runs as root)', async () => {
    const lock = '/var/lib/kiln/node-users/.lock';
    fs.mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
    fs.writeFileSync(lock, '');
    // And the file a process killed as it took the lock wrote aside (pid 2^22 + 1: above any pid Linux gives).
    const aside = `${lock}.4194305`;
    fs.writeFileSync(aside, '4194305');
    const minuteAgo = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, minuteAgo, minuteAgo);
    const started = Date.now();
    // The first non-admin run of this node makes its pool user, under that lock.
    const result = await runTask(node, layout, layout.task('job-l', 'locked'), base).done;
    assert.equal(result.result, 'success', JSON.stringify(result.failureInfo));
    assert.ok(Date.now() - started < 10_000, 'not a wait for the lock to time out');
    assert.equal(fs.existsSync(lock), false);
    assert.equal(fs.existsSync(aside), false, 'a dead process’s file is removed');
  });

  it('runs without a shell, in the task working directory, with the AZ_BATCH_* environment', async () => {
    const dirs = layout.task('job-a', 'task-1');
    const result = await runTask(node, layout, dirs, {
      ...base,
      jobId: 'job-a',
      taskId: 'task-1',
      commandLine: `/bin/sh -c 'pwd; echo "$AZ_BATCH_TASK_ID $AZ_BATCH_JOB_ID $AZ_BATCH_POOL_ID $GREETING"; echo $AZ_BATCH_NODE_SHARED_DIR' unused-arg`,
      environmentSettings: [{ name: 'GREETING', value: 'hi' }],
    }).done;
    assert.equal(result.result, 'success');
    assert.equal(result.exitCode, 0);
    const [cwd, ids, shared] = fs.readFileSync(dirs.stdoutFile, 'utf8').trim().split('\n');
    assert.equal(cwd, path.join(root, 'workitems/job-a/job-1/task-1/wd'));
    assert.equal(ids, 'task-1 job-a pool1 hi');
    assert.equal(shared, path.join(root, 'shared'));
    const literal = await runTask(node, layout, layout.task('job-a', 'task-2'), { ...base, commandLine: 'echo $HOME' }).done;
    assert.equal(literal.result, 'success');
    assert.equal(fs.readFileSync(layout.task('job-a', 'task-2').stdoutFile, 'utf8'), '$HOME\n', 'no shell, no expansion');
  });

  it('turns exit codes, missing programs and bad quoting into Azure failure info', async () => {
    const failed = await runTask(node, layout, layout.task('job-a', 'exit7'), { ...base, commandLine: `/bin/sh -c 'exit 7'` }).done;
    assert.equal(failed.exitCode, 7);
    assert.equal(failed.result, 'failure');
    assert.equal(failed.failureInfo?.code, 'FailureExitCode');
    assert.equal(failed.failureInfo?.category, 'usererror');
    const missing = await runTask(node, layout, layout.task('job-a', 'missing'), { ...base, commandLine: '/no/such/program' }).done;
    assert.equal(missing.failureInfo?.code, 'CommandProgramNotFound');
    assert.equal(missing.preProcessingError, true);
    const quoting = await runTask(node, layout, layout.task('job-a', 'quoting'), { ...base, commandLine: `echo 'open` }).done;
    assert.equal(quoting.failureInfo?.code, 'CommandLaunchFailed');
  });

  it('kills a task at its wall-clock limit', async () => {
    const started = Date.now();
    const result = await runTask(node, layout, layout.task('job-a', 'slow'), { ...base, commandLine: '/bin/sleep 30', maxWallClockMs: 200 }).done;
    assert.equal(result.failureInfo?.code, 'MaxWallClockTimeExceeded');
    assert.ok(Date.now() - started < 10_000);
  });

  it('runs non-admin tasks as an unprivileged user and admin tasks as root', async () => {
    const guarded = path.join(root, 'root-only');
    fs.mkdirSync(guarded, { mode: 0o755 });
    const write = `/bin/sh -c 'id -un; touch ${guarded}/x'`;
    const plain = await runTask(node, layout, layout.task('job-u', 'plain'), { ...base, commandLine: write }).done;
    const admin = await runTask(node, layout, layout.task('job-u', 'admin'), { ...base, commandLine: write, elevated: true, userIdentity: 'PoolAdmin' }).done;
    if (canSeparateUsers()) {
      // The pool's own OS user (agent/users.ts), whatever USER shows.
      assert.match(fs.readFileSync(layout.task('job-u', 'plain').stdoutFile, 'utf8').trim(), /^_azb_p[0-9a-f]{16}$/);
      assert.equal(plain.result, 'failure', 'the non-admin task cannot write where only root can');
      assert.match(fs.readFileSync(layout.task('job-u', 'plain').stderrFile, 'utf8'), /Permission denied/);
      assert.equal(admin.result, 'success');
      assert.equal(fs.readFileSync(layout.task('job-u', 'admin').stdoutFile, 'utf8').trim(), 'root');
    } else {
      // Not root: Kiln cannot switch users, so both run as the agent's user, which owns the directory.
      assert.equal(plain.result, 'success');
      assert.equal(admin.result, 'success');
    }
  });
});
