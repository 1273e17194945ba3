import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient, BatchServiceModels } from '@azure/batch';
import { startKiln, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { nodeRoot, taskFile, vm, waitForNodes, waitForTask } from '../nodes/helpers.js';

// Users as Azure makes them, on a kiln up run as root: tasks of different pools run as different
// OS users and cannot read each other's files; a task-scope auto-user is made for its run and
// removed after it; a pool's userAccounts become OS users with their uid/gid; a uid another user
// has fails the task; and every user goes with its pool.
const BOB_UID = 4321;
const TAKEN_UID = 4322;

const entry = (database: 'passwd' | 'group', key: string | number): string[] | undefined => {
  try {
    return execFileSync('getent', [database, String(key)], { encoding: 'utf8' })
      .trim()
      .split(':');
  } catch {
    return undefined;
  }
};
const passwdEntry = (key: string | number) => entry('passwd', key);

describe('users as Azure makes them', () => {
  let kiln: KilnProcess;
  let batch: BatchServiceClient;
  // A user of the machine that holds the uid a pool will ask for.
  const squatter = `kilnsquat${process.pid}`;
  const marker = path.join(tempDir('kiln-users-marker-'), 'ran');
  const osUids: number[] = [];

  const runTask = async (poolId: string, taskId: string, commandLine: string, userIdentity?: BatchServiceModels.UserIdentity): Promise<BatchServiceModels.CloudTask> => {
    const jobId = `${poolId}-job`;
    await batch.job.add({ id: jobId, poolInfo: { poolId } }).catch((err: { code?: string }) => {
      if (err.code !== 'JobExists') throw err;
    });
    await batch.task.add(jobId, { id: taskId, commandLine, ...(userIdentity ? { userIdentity } : {}) });
    return waitForTask(batch, jobId, taskId);
  };
  const stdoutOf = (poolId: string, taskId: string) => taskFile(kiln, batch, `${poolId}-job`, taskId, 'stdout.txt');
  const stderrOf = (poolId: string, taskId: string) => taskFile(kiln, batch, `${poolId}-job`, taskId, 'stderr.txt');

  before(async () => {
    assert.equal(passwdEntry(BOB_UID), undefined, `uid ${BOB_UID} must be free on this machine for this test`);
    execFileSync('useradd', ['--no-create-home', '--no-log-init', '--uid', String(TAKEN_UID), squatter]);
    fs.chmodSync(path.dirname(marker), 0o777);
    kiln = await startKiln();
    batch = kiln.batchClient();
    const pool = (id: string, userAccounts: BatchServiceModels.UserAccount[] = []) =>
      batch.pool.add({ id, vmSize: 'standard_d2s_v3', targetDedicatedNodes: 1, virtualMachineConfiguration: vm, userAccounts });
    await pool('users-a');
    await pool('users-b', [
      { name: 'bob', password: 'Bob-Passw0rd!', elevationLevel: 'nonadmin', linuxUserConfiguration: { uid: BOB_UID, gid: BOB_UID } },
      { name: 'alice', password: 'Alice-Passw0rd!', elevationLevel: 'admin' },
    ]);
    await pool('users-c', [{ name: 'carol', password: 'Carol-Passw0rd!', elevationLevel: 'nonadmin', linuxUserConfiguration: { uid: TAKEN_UID, gid: TAKEN_UID } }]);
    for (const id of ['users-a', 'users-b', 'users-c']) await waitForNodes(batch, id, 1);
  });

  after(async () => {
    await kiln.stop();
    execFileSync('userdel', [squatter]);
    fs.rmSync(kiln.dataDir, { recursive: true, force: true });
    fs.rmSync(kiln.nodesDir, { recursive: true, force: true });
    for (const uid of osUids) {
      assert.equal(passwdEntry(uid), undefined, `the user with uid ${uid} is gone once kiln up has stopped`);
      assert.equal(entry('group', uid), undefined, `the group with gid ${uid} is gone once kiln up has stopped`);
    }
  });

  it("runs two pools' tasks as two users, neither of which can read the other's files", async () => {
    const a = await runTask('users-a', 'secret', `/bin/sh -c 'echo secret-a > "$AZ_BATCH_TASK_WORKING_DIR/secret.txt"; id -u; echo "$USER $AZ_BATCH_TASK_USER"'`);
    assert.equal(a.executionInfo?.result, 'success');
    const [uidA, shown] = (await stdoutOf('users-a', 'secret')).trim().split('\n');
    assert.equal(shown, '_azbatch _azbatch', 'tasks see the name Azure shows');
    const secret = path.join(nodeRoot(kiln, 'users-a', a.nodeInfo!.nodeId!), 'workitems/users-a-job/job-1/secret/wd/secret.txt');
    assert.equal(fs.readFileSync(secret, 'utf8'), 'secret-a\n');

    const b = await runTask('users-b', 'peek', `/bin/sh -c 'id -u; cat ${secret}; ls ${path.dirname(path.dirname(secret))}'`);
    const [uidB] = (await stdoutOf('users-b', 'peek')).trim().split('\n');
    assert.notEqual(uidB, uidA, 'pools have users of their own');
    assert.notEqual(Number(uidA), 0);
    assert.notEqual(Number(uidB), 0);
    assert.equal(b.executionInfo?.exitCode !== 0, true, 'the other pool cannot read the file');
    assert.match(await stderrOf('users-b', 'peek'), /Permission denied/);
    assert.doesNotMatch(await stdoutOf('users-b', 'peek'), /secret-a/);
    osUids.push(Number(uidA), Number(uidB));
  });

  it('makes a task-scope auto-user for its run alone, and removes it after', async () => {
    const task = await runTask(
      'users-a',
      'own-user',
      `/bin/sh -c 'id -u; id -un; echo "$AZ_BATCH_TASK_USER"; echo "$AZ_BATCH_TASK_USER_IDENTITY"; touch "$AZ_BATCH_TASK_WORKING_DIR/mine" "$AZ_BATCH_NODE_SHARED_DIR/shared-$$"'`,
      {
        autoUser: { scope: 'task', elevationLevel: 'nonadmin' },
      },
    );
    assert.equal(task.executionInfo?.result, 'success');
    const [uid, osName, shown, identity] = (await stdoutOf('users-a', 'own-user')).trim().split('\n');
    const poolUid = osUids[0];
    assert.notEqual(Number(uid), poolUid, 'not the pool user');
    assert.notEqual(Number(uid), 0);
    assert.equal(shown, osName);
    assert.equal(identity, 'TaskNonAdmin');
    assert.equal(passwdEntry(osName!), undefined, 'the user went with its run');
    assert.equal(passwdEntry(uid!), undefined);
  });

  it("runs a pool's userAccounts as OS users with their uid/gid and elevation", async () => {
    const bob = await runTask('users-b', 'as-bob', `/bin/sh -c 'id -u; id -g; echo "$USER $AZ_BATCH_TASK_USER"; touch "$AZ_BATCH_TASK_WORKING_DIR/mine"'`, { userName: 'bob' });
    assert.equal(bob.executionInfo?.result, 'success', JSON.stringify(bob.executionInfo?.failureInfo));
    assert.deepEqual((await stdoutOf('users-b', 'as-bob')).trim().split('\n'), [String(BOB_UID), String(BOB_UID), 'bob bob']);
    const entry = passwdEntry(BOB_UID)!;
    assert.notEqual(entry[0], 'bob', "the OS name is the pool's own, so that two pools' bobs never collide");
    osUids.push(BOB_UID);

    const alice = await runTask('users-b', 'as-alice', `/bin/sh -c 'id -u; echo "$USER"'`, { userName: 'alice' });
    assert.equal(alice.executionInfo?.result, 'success');
    assert.deepEqual((await stdoutOf('users-b', 'as-alice')).trim().split('\n'), ['0', 'alice'], 'an admin account has full administrator rights');
  });

  it('fails the task, and never runs it, when its uid is taken by another user', async () => {
    const task = await runTask('users-c', 'squatted', `/bin/sh -c 'touch ${marker}; id -u'`, { userName: 'carol' });
    assert.equal(task.executionInfo?.result, 'failure');
    assert.match(task.executionInfo?.failureInfo?.message ?? '', new RegExp(`uid ${TAKEN_UID} is taken`));
    assert.equal(fs.existsSync(marker), false, 'the command never ran');
    assert.equal(passwdEntry(TAKEN_UID)?.[0], squatter, "the other user's account is untouched");
  });

  it('removes the users of a pool with the pool', async () => {
    await batch.pool.deleteMethod('users-b');
    await waitFor('pool users-b to be gone', async () => ((await batch.pool.list()).some((p) => p.id === 'users-b') ? undefined : true), 30_000);
    await waitFor(`the user with uid ${BOB_UID} to be gone`, () => (passwdEntry(BOB_UID) === undefined ? true : undefined));
    assert.equal(passwdEntry(osUids[1]!), undefined, "the pool's auto-user is gone too");
    assert.equal(entry('group', BOB_UID), undefined, "bob's group is gone");
    assert.equal(entry('group', osUids[1]!), undefined, "the pool's group (every pool user's) is gone");
    assert.ok(passwdEntry(osUids[0]!), "the other pool's user stays");
  });
});
