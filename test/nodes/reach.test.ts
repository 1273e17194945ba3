import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { freePort, KILN_BIN, startKiln, tempDir, waitFor } from '../helpers/kiln.js';

/** `kiln agent` as a child process, its stderr collected. */
function agent(batchUrl: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const root = tempDir('kiln-reach-node-');
  fs.chmodSync(root, 0o755);
  const child = spawn(process.execPath, [KILN_BIN, 'agent', '--batch-url', batchUrl, '--pool', 'nowhere', '--root', root], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

describe('kiln agent says why it cannot reach its server', () => {
  const started: ChildProcess[] = [];
  after(() => {
    for (const child of started) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  it('logs a closed port once, then a reminder while it lasts, not a line per retry', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const a = agent(url, { KILN_AGENT_TOKEN: 'any', KILN_AGENT_UNREACHABLE_LOG_MS: '400' });
    started.push(a.child);
    await waitFor('a reminder', () => (/still cannot reach .* since \d{4}-/.test(a.output()) ? true : undefined));
    const first = a
      .output()
      .split('\n')
      .filter((line) => line.includes(`cannot reach ${url}: connection refused (ECONNREFUSED); retrying`));
    assert.equal(first.length, 1, a.output());
    assert.match(a.output(), new RegExp(`\\[agent\\] still cannot reach ${url.replaceAll('.', '\\.')} since \\S+: connection refused \\(ECONNREFUSED\\)`));
    assert.equal(a.child.exitCode, null, 'it keeps trying');
  });

  it("exits with the server's own message when its join token is refused", async () => {
    const kiln = await startKiln();
    try {
      const a = agent(kiln.batchUrl, { KILN_AGENT_TOKEN: 'not-a-token' });
      started.push(a.child);
      assert.notEqual(await a.exited, 0);
      assert.match(
        a.output(),
        new RegExp(`${kiln.batchUrl.replaceAll('.', '\\.')} refused to let this agent join pool nowhere: .*401 \\{"error":"a valid agent token is required"\\}`),
      );
    } finally {
      await kiln.stop();
    }
  });
});
