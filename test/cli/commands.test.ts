import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import { ACCOUNT, KEY, KILN_BIN, ROOT, freePort, tempDir, waitFor } from '../helpers/kiln.js';

/**
 * Every command the README shows, and the one `kiln up` prints, run as written once its placeholders
 * are filled in: a newcomer copies them, so each must work. The commands run in a directory where
 * `kiln` is installed as `npm install kiln` would put it (node_modules/.bin), through a real `npx`.
 */
const SETUP = path.join(ROOT, 'scripts/test-setup.sh');
const vm = {
  imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', version: 'latest' },
  nodeAgentSKUId: 'batch.node.ubuntu 22.04',
};

/** The shell commands of the README's `sh` blocks, continuation lines joined, `# or:` alternatives included. */
function readmeCommands(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const commands: string[] = [];
  for (const [, block] of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const joined = block!.replace(/\\\n\s*/g, '');
    for (const raw of joined.split('\n')) {
      const line = raw
        .replace(/^# or: /, '')
        .replace(/\s+#\s.*$/, '')
        .trim();
      if (line && !line.startsWith('#')) commands.push(line);
    }
  }
  return commands;
}

const children: ChildProcess[] = [];
function kill(child: ChildProcess): Promise<unknown> {
  const exited = new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  return exited;
}

/** A shell running one command in `cwd`, in a process group of its own so that it can be stopped whole. */
function shell(command: string, cwd: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn('/bin/bash', ['-c', command], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  children.push(child);
  return { child, exit, output: () => output };
}

/** A directory where `npx kiln` finds this checkout's CLI, as after `npm install kiln`. */
function installedHere(): string {
  const dir = tempDir('kiln-newcomer-');
  fs.chmodSync(dir, 0o755); // node roots live below it: non-admin tasks must be let through
  fs.mkdirSync(path.join(dir, 'node_modules/.bin'), { recursive: true });
  fs.symlinkSync(KILN_BIN, path.join(dir, 'node_modules/.bin/kiln'));
  return dir;
}

describe("the README's and kiln up's commands", () => {
  after(async () => {
    await Promise.all(children.map(kill));
  });

  it('the test set-up finds what a machine lacks: the Python SDKs, strace, flock', () => {
    const venv = tempDir('kiln-bare-python-');
    execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
    const bare = execFileSync('/bin/bash', [SETUP, '--check'], { encoding: 'utf8', env: { ...process.env, KILN_TEST_PYTHON: path.join(venv, 'bin/python') } });
    assert.deepEqual(bare.trim().split('\n'), ['python3-azure-storage', 'python3-azure-multiapi-storage']);

    const emptyPath = tempDir('kiln-empty-path-');
    const noTools = execFileSync('/bin/bash', [SETUP, '--check'], { encoding: 'utf8', env: { ...process.env, PATH: emptyPath } });
    assert.deepEqual(noTools.trim().split('\n'), ['strace', 'util-linux']);

    // This machine has run the set-up (npm's pretest): nothing is missing any more.
    assert.equal(execFileSync('/bin/bash', [SETUP, '--check'], { encoding: 'utf8' }), '');
    fs.rmSync(venv, { recursive: true, force: true });
  });

  it('the README shows the commands this test runs, and no others', () => {
    const kilnCommands = readmeCommands().filter((c) => c.includes('kiln '));
    assert.deepEqual(kilnCommands, [
      'KILN_ACCOUNT_KEY="$KEY" npx kiln tutorial --batch-url http://127.0.0.1:10100 --blob-url http://127.0.0.1:10000/devstoreaccount1 --account-name devstoreaccount1',
      'npx kiln up',
      '(umask 077; npx kiln agent-token --pool mypool > mypool.token)',
      'npx kiln agent --batch-url http://SERVER:10100 --pool mypool --token-file mypool.token --root /mnt/batch/tasks',
      'KILN_AGENT_TOKEN="$(cat mypool.token)" npx kiln agent --batch-url http://SERVER:10100 --pool mypool --root /mnt/batch/tasks',
    ]);
  });

  it('kiln up and kiln agent refuse node directories that tasks could not reach', async () => {
    const hidden = tempDir('kiln-private-'); // 0700, as mkdtemp makes it
    const up = shell(`node ${KILN_BIN} up --blob-port 0 --batch-port 0 --data ${hidden}/data --nodes-dir ${hidden}/nodes`, hidden);
    assert.notEqual(await up.exit, 0);
    assert.match(up.output(), new RegExp(`--nodes-dir ${hidden}/nodes: ${hidden} does not let other users through.*chmod o\\+x ${hidden}`));
    const agent = shell(`KILN_AGENT_TOKEN=x node ${KILN_BIN} agent --batch-url http://127.0.0.1:1 --pool p --root ${hidden}/node/root`, hidden);
    assert.notEqual(await agent.exit, 0);
    assert.match(agent.output(), new RegExp(`--root ${hidden}/node/root: ${hidden} does not let other users through`));
    fs.rmSync(hidden, { recursive: true, force: true });
  });

  it('npx kiln up, the agents it and the README print, and the tutorial against it, run as written', async () => {
    const cwd = installedHere();
    const [blobPort, batchPort] = [await freePort(), await freePort()];
    const commands = readmeCommands();
    const up = shell(
      commands.find((c) => c === 'npx kiln up')!,
      cwd,
      {
        KILN_BLOB_PORT: String(blobPort),
        KILN_BATCH_PORT: String(batchPort),
        KILN_DATA: path.join(cwd, 'data'),
        KILN_NODES_DIR: path.join(cwd, 'nodes'),
      },
    );
    const ready = waitFor('kiln up to be ready', () => (up.output().includes('Press Ctrl+C') ? true : undefined), 30_000);
    const exited = up.exit.then((code) => Promise.reject(new Error(`kiln up exited (${code})`)));
    exited.catch(() => undefined); // it exits at the end too, once the race is over
    await Promise.race([ready, exited]).catch((e: Error) => assert.fail(`${e.message}\n${up.output()}`));
    const batchUrl = `http://127.0.0.1:${batchPort}`;
    const batch = new BatchServiceClient(new BatchSharedKeyCredentials(ACCOUNT, KEY), batchUrl);
    await batch.pool.add({ id: 'mypool', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const fill = (command: string, root: string) =>
      command.replaceAll('SERVER:10100', `127.0.0.1:${batchPort}`).replaceAll('/mnt/batch/tasks', root).replaceAll('<pool>', 'mypool').replaceAll('<path>', 'mypool.token');

    /** Runs an agent command until the node it says it joined as is idle in the pool, then stops it. */
    const joins = async (command: string) => {
      const root = tempDir('kiln-newcomer-node-');
      const agent = shell(fill(command, root), cwd);
      await waitFor(
        `"${command}" to join`,
        async () => {
          const nodeId = /node (\S+) joined pool mypool/.exec(agent.output())?.[1];
          const nodes = nodeId ? await batch.computeNode.list('mypool') : [];
          return nodes.some((n) => n.id === nodeId && n.state === 'idle') ? true : undefined;
        },
        30_000,
      ).catch((e: Error) => assert.fail(`${e.message}\n${agent.output()}`));
      await kill(agent.child);
      fs.rmSync(root, { recursive: true, force: true });
    };

    const tokenCommand = commands.find((c) => c.includes('agent-token'))!;
    const token = shell(tokenCommand, cwd);
    assert.equal(await token.exit, 0, token.output());
    assert.equal(fs.statSync(path.join(cwd, 'mypool.token')).mode & 0o777, 0o600, "the token file is its owner's alone");
    for (const agentCommand of commands.filter((c) => c.includes('kiln agent '))) await joins(agentCommand);

    const printed = /Remote nodes:\s+(.*) \(or --token-file <path>\)/.exec(up.output())?.[1];
    assert.ok(printed, up.output());
    await joins(printed);
    await joins(`${printed.replace(/^KILN_AGENT_TOKEN="[^"]*" /, '')} --token-file <path>`);

    const tutorial = shell(
      commands
        .find((c) => c.includes('kiln tutorial'))!
        .replaceAll('127.0.0.1:10100', `127.0.0.1:${batchPort}`)
        .replaceAll('127.0.0.1:10000', `127.0.0.1:${blobPort}`),
      cwd,
      { KEY },
    );
    assert.equal(await tutorial.exit, 0, tutorial.output());
    assert.match(tutorial.output(), /Sample end/);

    process.kill(-up.child.pid!, 'SIGINT'); // Ctrl+C reaches the whole foreground group: bash, npx, kiln
    await up.exit;
    assert.match(up.output(), /SIGINT: shutting down/);
    fs.rmSync(cwd, { recursive: true, force: true });
  });
});
