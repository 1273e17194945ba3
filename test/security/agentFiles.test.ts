// The root agent's file primitives against what a task can plant in its own directories: symbolic
// links, hard links, FIFOs, directories where files were, and names swapped while the agent works.
// Real files, run as root (as the agent runs); a root-only marker outside must never change.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answerFileCommand } from '../../src/agent/files.js';
import { ConfinedPathError } from '../../src/agent/fs/confinedPath.js';
import { PinnedDir, removeTree } from '../../src/agent/fs/pinnedDir.js';
import { NodeLayout } from '../../src/agent/layout.js';
import { runTask, type TaskRunSpec } from '../../src/agent/runTask.js';
import type { FileCommand } from '../../src/protocol/agent/messages.js';
import { tempDir } from '../helpers/kiln.js';

/** An owner that is not root and not the test: `nobody`'s ids need no user to exist. */
const NOBODY = { uid: 65534, gid: 65534 };
const SECRET = 'root only\n';

/** A root-owned 0600 file outside every directory the agent works in, and its check. */
function marker(dir: string) {
  const file = path.join(dir, 'secret');
  fs.writeFileSync(file, SECRET, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  const before = fs.statSync(file);
  return {
    file,
    intact(): void {
      const now = fs.statSync(file);
      assert.equal(fs.readFileSync(file, 'utf8'), SECRET, 'the marker keeps its content');
      assert.equal(now.mode & 0o7777, 0o600, 'the marker keeps its mode');
      assert.equal(now.uid, before.uid, 'the marker keeps its owner');
      assert.equal(now.gid, before.gid, 'the marker keeps its group');
    },
  };
}

describe('the agent never follows what a task planted', () => {
  const root = tempDir('kiln-confined-');
  fs.chmodSync(root, 0o755);
  const outside = path.join(root, 'outside');
  const work = path.join(root, 'work');
  let secret: ReturnType<typeof marker>;

  before(() => {
    fs.mkdirSync(outside, { mode: 0o700 });
    fs.mkdirSync(work, { mode: 0o755 });
    secret = marker(outside);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A fresh directory owned by the unprivileged user, as a task's wd is. */
  const wd = (name: string): string => {
    const dir = path.join(work, name);
    fs.mkdirSync(dir);
    fs.chownSync(dir, NOBODY.uid, NOBODY.gid);
    return dir;
  };

  it('creates a file afresh over a symlink or a hard link to a root file, owned by the task user, leaving the target alone', () => {
    const dir = wd('create');
    fs.symlinkSync(secret.file, path.join(dir, 'stdout.txt'));
    fs.linkSync(secret.file, path.join(dir, 'stderr.txt'));
    const pinned = PinnedDir.open(dir);
    try {
      for (const name of ['stdout.txt', 'stderr.txt']) {
        const fd = pinned.createFile(name, NOBODY);
        fs.writeSync(fd, 'task output');
        fs.closeSync(fd);
        const st = fs.lstatSync(path.join(dir, name));
        assert.ok(st.isFile() && st.nlink === 1, `${name} is a new file of its own`);
        assert.equal(st.uid, NOBODY.uid);
        assert.equal(fs.readFileSync(path.join(dir, name), 'utf8'), 'task output');
      }
    } finally {
      pinned.close();
    }
    secret.intact();
    assert.equal(fs.statSync(secret.file).nlink, 1, 'the hard link was removed, not written');
  });

  it('creates a file where a directory was, removing the directory without following the links in it', () => {
    const dir = wd('dir-in-the-way');
    fs.mkdirSync(path.join(dir, 'stdout.txt/deeper'), { recursive: true });
    fs.symlinkSync(outside, path.join(dir, 'stdout.txt/deeper/escape'));
    fs.symlinkSync(secret.file, path.join(dir, 'stdout.txt/link'));
    const pinned = PinnedDir.open(dir);
    try {
      fs.closeSync(pinned.createFile('stdout.txt'));
    } finally {
      pinned.close();
    }
    assert.ok(fs.lstatSync(path.join(dir, 'stdout.txt')).isFile());
    secret.intact();
    assert.deepEqual(fs.readdirSync(outside), ['secret']);
  });

  it('refuses to walk or read through a link, and reads no FIFO, device or foreign hard link', () => {
    const dir = wd('read');
    fs.symlinkSync(outside, path.join(dir, 'linked-dir'));
    fs.symlinkSync(secret.file, path.join(dir, 'linked-file'));
    fs.linkSync(secret.file, path.join(dir, 'hard'));
    fs.writeFileSync(path.join(dir, 'own'), 'mine');
    fs.chownSync(path.join(dir, 'own'), NOBODY.uid, NOBODY.gid);
    fs.linkSync(path.join(dir, 'own'), path.join(dir, 'own-too'));
    spawnSyncOk('mkfifo', [path.join(dir, 'fifo')]);
    const pinned = PinnedDir.open(dir);
    try {
      assert.throws(() => pinned.walk(['linked-dir']), ConfinedPathError);
      assert.throws(() => pinned.openFileAt(['linked-dir', 'secret']), ConfinedPathError);
      assert.throws(() => pinned.openFile('linked-file'), ConfinedPathError);
      assert.throws(() => pinned.openFile('hard'), /hard links/);
      assert.throws(() => pinned.openFile('fifo'), /not a regular file/, 'refused at once: opening a FIFO does not wait for a writer');
      const own = pinned.openFile('own-too');
      fs.closeSync(own.fd);
      assert.equal(own.stat.size, 4, "a hard link to the directory owner's own file is read");
    } finally {
      pinned.close();
    }
    fs.unlinkSync(path.join(dir, 'hard'));
    secret.intact();
  });

  it('removes a tree without following links out of it', () => {
    const dir = wd('remove');
    fs.mkdirSync(path.join(dir, 'a/b'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a/b/file'), 'x');
    fs.symlinkSync(outside, path.join(dir, 'a/out'));
    fs.symlinkSync(secret.file, path.join(dir, 'a/b/secret'));
    removeTree(dir);
    assert.ok(!fs.existsSync(dir));
    secret.intact();
    assert.deepEqual(fs.readdirSync(outside), ['secret']);
    removeTree(dir); // nothing there is fine
  });

  it('stays in its directory while another process keeps swapping a component for a link outside', async () => {
    const dir = wd('race');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.symlinkSync(outside, path.join(dir, 'evil'));
    // sub and evil trade places as fast as a process can rename: a lexical check then a use by path
    // loses this race; a walk from a descriptor, component by component, cannot.
    const swapper = spawn(process.execPath, [
      '-e',
      `const fs = require('fs'); const d = ${JSON.stringify(dir)};
       for (;;) { try { fs.renameSync(d + '/sub', d + '/t'); fs.renameSync(d + '/evil', d + '/sub'); fs.renameSync(d + '/sub', d + '/evil'); fs.renameSync(d + '/t', d + '/sub'); } catch {} }`,
    ]);
    try {
      const pinned = PinnedDir.open(dir);
      let created = 0;
      let refused = 0;
      try {
        const deadline = Date.now() + 1500;
        while (Date.now() < deadline || created === 0 || refused === 0) {
          try {
            const sub = pinned.walk(['sub']);
            try {
              fs.closeSync(sub.createFile('secret', NOBODY));
              sub.remove('secret');
              created++;
            } finally {
              sub.close();
            }
          } catch (err) {
            if (!(err instanceof ConfinedPathError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
            refused++;
          }
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        pinned.close();
      }
      assert.ok(created > 0 && refused > 0, `both outcomes seen (${created} created, ${refused} refused)`);
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((r) => swapper.once('exit', r));
    }
    secret.intact();
    assert.deepEqual(fs.readdirSync(outside), ['secret']);
  });
});

describe('the file API answers never leave their root', () => {
  const base = tempDir('kiln-fileapi-');
  fs.chmodSync(base, 0o755);
  const outside = path.join(base, 'outside');
  const layout = new NodeLayout(path.join(base, 'node'));
  let secret: ReturnType<typeof marker>;
  const taskRoot = { kind: 'task' as const, jobId: 'job', taskId: 'task' };
  const ask = (command: Omit<FileCommand, 'type' | 'requestId'>) => answerFileCommand(layout, { type: 'files', requestId: 'r', ...command });

  before(() => {
    fs.mkdirSync(outside, { mode: 0o700 });
    secret = marker(outside);
    layout.prepare();
    const wd = layout.task('job', 'task').workingDir;
    fs.mkdirSync(wd, { recursive: true });
    fs.symlinkSync(secret.file, path.join(wd, 'peek'));
    fs.symlinkSync(outside, path.join(wd, 'out'));
    fs.linkSync(secret.file, path.join(wd, 'hard'));
    fs.chownSync(wd, NOBODY.uid, NOBODY.gid);
    fs.writeFileSync(path.join(layout.sharedDir, 'keep'), 'k');
  });
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it('does not read or stat a root file through a symlink, a linked directory or a hard link', () => {
    for (const file of ['wd/peek', 'wd/out/secret', 'wd/hard']) {
      const read = ask({ op: 'read', root: taskRoot, path: file });
      assert.equal(read.result.ok, false, `${file} is not read`);
      assert.equal(read.body, undefined);
      assert.equal((read.result as { error: string }).error, 'notfound');
      assert.equal(ask({ op: 'stat', root: taskRoot, path: file }).result.ok, false, `${file} is not stat'ed`);
    }
    const listed = ask({ op: 'list', root: taskRoot, path: 'wd/out', recursive: true });
    assert.equal(listed.result.ok, false, 'a linked directory is not listed');
  });

  it('deletes through no link: a linked directory keeps its files, a link is removed itself', () => {
    assert.equal(ask({ op: 'delete', root: taskRoot, path: 'wd/out/secret' }).result.ok, false);
    assert.equal(ask({ op: 'delete', root: taskRoot, path: 'wd/peek' }).result.ok, true);
    assert.ok(!fs.existsSync(path.join(layout.task('job', 'task').workingDir, 'peek')));
    assert.equal(ask({ op: 'delete', root: taskRoot, path: 'wd', recursive: true }).result.ok, true);
    secret.intact();
  });

  it("refuses to delete the node's root and the directories the node needs", () => {
    for (const dir of ['.', '', 'shared', 'startup/', 'workitems', './fsmounts', 'shared/..']) {
      const answer = ask({ op: 'delete', root: { kind: 'node' }, path: dir, recursive: true });
      assert.equal((answer.result as { error?: string }).error, 'forbidden', `${JSON.stringify(dir)} is refused`);
    }
    assert.equal((ask({ op: 'delete', root: taskRoot, path: '.', recursive: true }).result as { error?: string }).error, 'forbidden', "a task's own directory too");
    assert.equal(fs.readFileSync(path.join(layout.sharedDir, 'keep'), 'utf8'), 'k');
  });

  it('answers a bad id or path as not found, never by throwing', () => {
    assert.equal((ask({ op: 'read', root: { kind: 'task', jobId: '../x', taskId: 't' }, path: 'stdout.txt' }).result as { error?: string }).error, 'notfound');
    assert.equal((ask({ op: 'read', root: taskRoot, path: '../../../../outside/secret' }).result as { error?: string }).error, 'notfound');
    assert.equal((ask({ op: 'read', root: taskRoot, path: 'a\0b' }).result as { error?: string }).error, 'notfound');
  });
});

describe('a task that cannot be prepared or launched fails alone', () => {
  const root = tempDir('kiln-poison-');
  fs.chmodSync(root, 0o755);
  const layout = new NodeLayout(root);
  layout.prepare();
  after(() => fs.rmSync(root, { recursive: true, force: true }));
  const node = { accountName: 'acct', accountUrl: 'http://127.0.0.1:1/', poolId: 'p', nodeId: 'n', isDedicated: true };
  const base: TaskRunSpec = { commandLine: '/bin/true', resourceFiles: [], environmentSettings: [], outputFiles: [], elevated: false, userIdentity: 'PoolNonAdmin' };

  it('fails a NUL byte in the environment or the command line as CommandLaunchFailed, without echoing it', async () => {
    const env = await runTask(node, layout, layout.task('j', 'nul-env'), { ...base, environmentSettings: [{ name: 'SECRET', value: 'abc\0def' }] }).done;
    assert.equal(env.result, 'failure');
    assert.equal(env.failureInfo?.code, 'CommandLaunchFailed');
    assert.equal(env.failureInfo?.category, 'usererror');
    assert.ok(!(env.failureInfo?.message ?? '').includes('abc'), 'the value is not in the message');
    const argv = await runTask(node, layout, layout.task('j', 'nul-argv'), { ...base, commandLine: '/bin/echo a\0b' }).done;
    assert.equal(argv.failureInfo?.code, 'CommandLaunchFailed');
  });

  it('fails a task whose working directory became a link, touching nothing outside', async () => {
    const outside = tempDir('kiln-poison-out-');
    const secret = marker(outside);
    const dirs = layout.task('j', 'wd-link');
    fs.mkdirSync(dirs.taskDir, { recursive: true });
    fs.symlinkSync(outside, dirs.workingDir);
    const result = await runTask(node, layout, dirs, { ...base, commandLine: '/bin/sh -c "echo hi > secret"' }).done;
    assert.equal(result.result, 'failure');
    assert.equal(result.failureInfo?.code, 'TaskFileRefused');
    secret.intact();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it("takes back a task directory an older agent gave the task's user, replacing a planted stdout.txt", async () => {
    const outside = tempDir('kiln-poison-out-');
    const secret = marker(outside);
    const dirs = layout.task('j', 'old-layout');
    fs.mkdirSync(dirs.workingDir, { recursive: true });
    fs.chownSync(dirs.taskDir, NOBODY.uid, NOBODY.gid);
    fs.symlinkSync(secret.file, dirs.stdoutFile);
    fs.mkdirSync(dirs.stderrFile);
    const result = await runTask(node, layout, dirs, { ...base, commandLine: '/bin/echo fine' }).done;
    assert.equal(result.result, 'success');
    assert.equal(fs.readFileSync(dirs.stdoutFile, 'utf8'), 'fine\n');
    const st = fs.statSync(dirs.taskDir);
    assert.equal(st.uid, 0, "the task directory is the agent's again");
    assert.equal(st.mode & 0o777, 0o755);
    secret.intact();
    fs.rmSync(outside, { recursive: true, force: true });
  });
});

function spawnSyncOk(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.stderr}`);
}
