import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { splitCommandLine } from '../../src/agent/exec/commandLine.js';
import { closeNodeRuns } from '../../src/agent/exec/containment.js';
import { runProcess, type ProcessSpec } from '../../src/agent/exec/runProcess.js';
import { tempDir, waitFor } from '../helpers/kiln.js';

describe('command lines are split like a shell splits words, never expanded', () => {
  const cases: [string, string[]][] = [
    ['/bin/true', ['/bin/true']],
    ['  echo   a  b ', ['echo', 'a', 'b']],
    [`/bin/bash -c 'set -e; echo $HOME | wc -c'`, ['/bin/bash', '-c', 'set -e; echo $HOME | wc -c']],
    [`python3 task.py --filepath "my file.txt" --n 3`, ['python3', 'task.py', '--filepath', 'my file.txt', '--n', '3']],
    [`echo "a \\"quoted\\" \\$word" 'it''s'`, ['echo', 'a "quoted" $word', 'its']],
    [`echo a\\ b "" ''`, ['echo', 'a b', '', '']],
    ['echo $AZ_BATCH_NODE_SHARED_DIR', ['echo', '$AZ_BATCH_NODE_SHARED_DIR']],
  ];
  for (const [line, argv] of cases) it(line, () => assert.deepEqual(splitCommandLine(line), argv));
  it('refuses unterminated quotes and empty lines', () => {
    assert.throws(() => splitCommandLine(`echo 'open`), /unterminated single quote/);
    assert.throws(() => splitCommandLine('   '), /empty/);
  });
});

/** This process's task launchers (exec/launcher.ts). */
function launcherPids(): number[] {
  return fs
    .readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('launcher.pl');
      } catch {
        return false;
      }
    });
}

/** Whether a process exists and is not a zombie (its reaping is init's business, not the run's). */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('task processes', () => {
  const dir = tempDir('kiln-exec-');
  after(() => {
    closeNodeRuns(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  /** runProcess with stdout and stderr going to NAME.out and NAME.err in the test directory. */
  const run = async (name: string, spec: Omit<ProcessSpec, 'stdout' | 'stderr' | 'nodeRoot'>) => {
    const stdout = fs.openSync(path.join(dir, `${name}.out`), 'w');
    const stderr = fs.openSync(path.join(dir, `${name}.err`), 'w');
    try {
      return await runProcess({ ...spec, stdout, stderr, nodeRoot: dir });
    } finally {
      fs.closeSync(stdout);
      fs.closeSync(stderr);
    }
  };

  it('runs in its directory with exactly the given environment, output to files', async () => {
    const outcome = await (
      await run('env', {
        argv: ['/bin/sh', '-c', 'pwd; echo "$GREETING"; echo oops >&2; exit 3'],
        cwd: dir,
        env: { GREETING: 'hello', PATH: '/usr/bin:/bin' },
      })
    ).done;
    assert.equal(outcome.exitCode, 3);
    assert.equal(outcome.timedOut, false);
    assert.equal(fs.readFileSync(path.join(dir, 'env.out'), 'utf8'), `${fs.realpathSync(dir)}\nhello\n`);
    assert.equal(fs.readFileSync(path.join(dir, 'env.err'), 'utf8'), 'oops\n');
  });

  it('kills the whole process group at the wall-clock limit', async () => {
    const pidFile = path.join(dir, 'grandchild.pid');
    const outcome = await (
      await run('timeout', {
        argv: ['/bin/sh', '-c', `sleep 60 & echo $! > ${pidFile}; wait`],
        cwd: dir,
        env: { PATH: '/usr/bin:/bin' },
        maxWallClockMs: 300,
      })
    ).done;
    assert.equal(outcome.timedOut, true);
    assert.equal(outcome.signal, 'SIGKILL');
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
    await waitFor('the sleeping grandchild to be gone', () => {
      try {
        process.kill(grandchild, 0);
        return undefined;
      } catch {
        return true;
      }
    });
  });

  it('kills what escaped into a session of its own (setsid) when the run ends, before it is reported', async () => {
    const pidFile = path.join(dir, 'escaped.pid');
    const outcome = await (
      await run('escape', {
        argv: ['/bin/sh', '-c', `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & while [ ! -s ${pidFile} ]; do sleep 0.01; done`],
        cwd: dir,
        env: { PATH: '/usr/bin:/bin' },
      })
    ).done;
    assert.equal(outcome.exitCode, 0);
    const escaped = Number(fs.readFileSync(pidFile, 'utf8'));
    // No wait: `done` resolves only once nothing of the run is left.
    assert.equal(isRunning(escaped), false, 'the setsid child is gone when the run is');
  });

  it('a late kill of a finished run does not reach the next run; a run after a killed one starts as usual', async () => {
    const killed = await run('killed', { argv: ['/bin/sleep', '60'], cwd: dir, env: {} });
    killed.kill();
    assert.equal((await killed.done).signal, 'SIGKILL');
    const first = await run('first', { argv: ['/bin/true'], cwd: dir, env: {} });
    assert.equal((await first.done).exitCode, 0);
    const second = await run('second', { argv: ['/bin/sleep', '0.2'], cwd: dir, env: {} });
    first.kill();
    const outcome = await second.done;
    assert.equal(outcome.signal, undefined, 'the second run was not killed');
    assert.equal(outcome.exitCode, 0);
  });

  it('sees every exit with nothing else to wake it: runs one after another, each reported on its own', async () => {
    // As a 1-slot node runs its tasks: the launcher hears nothing more until a run's exit is reported.
    for (let i = 0; i < 300; i++) {
      const running = await run('serial', { argv: ['/bin/true'], cwd: dir, env: {} });
      const outcome = await Promise.race([running.done, new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 5_000).unref())]);
      if (outcome === 'stuck') assert.fail(`run ${i}'s exit was not reported`);
      assert.equal(outcome.exitCode, 0);
    }
  });

  it("gives a run no descriptor of the launcher's, such as another run's process handle", async () => {
    const other = await run('other', { argv: ['/bin/sleep', '60'], cwd: dir, env: {} });
    try {
      const lister = await run('fds', { argv: ['/bin/sh', '-c', 'ls /proc/$$/fd'], cwd: dir, env: {} });
      assert.equal((await lister.done).exitCode, 0);
      assert.deepEqual(fs.readFileSync(path.join(dir, 'fds.out'), 'utf8').split(/\s+/).filter(Boolean).sort(), ['0', '1', '2']);
    } finally {
      other.kill();
      await other.done;
    }
  });

  it('runs as the given uid, gid and groups, with no way back to root (the suite runs as root)', async () => {
    const outcome = await (
      await run('ids', {
        argv: ['/bin/sh', '-c', 'id -u; id -g; id -G; su -c true root </dev/null 2>/dev/null && echo root-again || echo no-root'],
        cwd: '/',
        env: { PATH: '/usr/bin:/bin' },
        uid: 65534,
        gid: 65534,
        groups: [65534, 100],
      })
    ).done;
    assert.equal(outcome.exitCode, 0);
    assert.equal(fs.readFileSync(path.join(dir, 'ids.out'), 'utf8'), '65534\n65534\n65534 100\nno-root\n');
  });

  it('writes to the file the agent opened, even when its path became a link before the start', async () => {
    const target = path.join(dir, 'not-yours');
    fs.writeFileSync(target, 'keep');
    const stdoutPath = path.join(dir, 'swapped.out');
    const stdout = fs.openSync(stdoutPath, 'w');
    try {
      fs.rmSync(stdoutPath);
      fs.symlinkSync(target, stdoutPath);
      const running = await runProcess({ argv: ['/bin/echo', 'hello'], cwd: dir, env: {}, stdout, stderr: stdout, nodeRoot: dir });
      assert.equal((await running.done).exitCode, 0);
    } finally {
      fs.closeSync(stdout);
    }
    assert.equal(fs.readFileSync(target, 'utf8'), 'keep');
  });

  it('a launcher that dies ends its runs as killed; the next run gets a new launcher', async () => {
    const running = await run('orphan', { argv: ['/bin/sleep', '60'], cwd: dir, env: {} });
    const launcher = launcherPids();
    assert.equal(launcher.length, 1, 'one launcher for this process');
    process.kill(launcher[0]!, 'SIGKILL');
    const outcome = await running.done;
    assert.equal(outcome.signal, 'SIGKILL');
    assert.equal(isRunning(running.pid!), false, 'the run is gone with its group');
    const next = await run('after', { argv: ['/bin/sh', '-c', 'echo again'], cwd: dir, env: {} });
    assert.equal((await next.done).exitCode, 0);
    assert.equal(fs.readFileSync(path.join(dir, 'after.out'), 'utf8'), 'again\n');
    assert.notDeepEqual(launcherPids(), launcher);
  });

  it('passes arguments and environment values byte for byte (spaces, quotes, newlines, =, UTF-8)', async () => {
    const value = 'a b "c" \'d\'\nline=2 ünï 🔥';
    const outcome = await (await run('bytes', { argv: ['/bin/sh', '-c', 'printf "%s|%s" "$1" "$V"', 'sh', value], cwd: dir, env: { V: value, PATH: '/usr/bin:/bin' } })).done;
    assert.equal(outcome.exitCode, 0);
    assert.equal(fs.readFileSync(path.join(dir, 'bytes.out'), 'utf8'), `${value}|${value}`);
  });

  it('reports a program that cannot be started', async () => {
    const outcome = await (await run('missing', { argv: ['/no/such/program'], cwd: dir, env: {} })).done;
    assert.equal(outcome.exitCode, undefined);
    assert.match(String(outcome.launchError), /ENOENT/);
    assert.equal(fs.readFileSync(path.join(dir, 'missing.err'), 'utf8'), 'kiln: the task could not be started: exec /no/such/program: No such file or directory\n');
  });
});
