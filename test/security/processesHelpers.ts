import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KILN_BIN, tempDir, type KilnProcess } from '../helpers/kiln.js';

/**
 * A ledger every run of a task writes to, each line under flock with a nanosecond timestamp:
 * `start RUN NS` once, then `alive RUN NS` every 20 ms from a child that left the task's process
 * group and session (setsid) and says its node root is elsewhere. Which runs overlapped is read
 * off the ledger, not inferred from Kiln's own records.
 */
export class Ledger {
  readonly dir = tempDir('kiln-ledger-');
  readonly file = path.join(this.dir, 'ledger');
  readonly commandLine: string;

  constructor() {
    // The task runs as an unprivileged user: the ledger is everyone's, as a shared disk would be.
    fs.chmodSync(this.dir, 0o777);
    fs.writeFileSync(this.file, '', { mode: 0o666 });
    fs.chmodSync(this.file, 0o666);
    const note = path.join(this.dir, 'note.sh');
    fs.writeFileSync(note, `#!/bin/sh\nexec flock "${this.file}" sh -c 'echo "$1 $2 $(date +%s%N)" >> "${this.file}"' note "$1" "$2"\n`, { mode: 0o755 });
    const task = path.join(this.dir, 'task.sh');
    fs.writeFileSync(
      task,
      [
        '#!/bin/sh',
        'run=$(cat /proc/sys/kernel/random/uuid)',
        `${note} start $run`,
        // The escape: a session of its own, and an environment that names another node root.
        `AZ_BATCH_NODE_ROOT_DIR=/nowhere setsid sh -c 'while :; do ${note} alive "$0"; sleep 0.02; done' $run &`,
        'while :; do sleep 1; done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    this.commandLine = `/bin/sh ${task}`;
  }

  entries(): { event: string; run: string; ns: bigint }[] {
    return fs
      .readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [event, run, ns] = line.split(' ');
        return { event: event!, run: run!, ns: BigInt(ns!) };
      });
  }

  starts(): { run: string; ns: bigint }[] {
    return this.entries().filter((e) => e.event === 'start');
  }

  /** The last sign of life of a run (its start if it never beat). */
  lastAlive(run: string): bigint {
    return this.entries()
      .filter((e) => e.run === run)
      .reduce((last, e) => (e.ns > last ? e.ns : last), 0n);
  }

  beats(run: string): number {
    return this.entries().filter((e) => e.run === run && e.event === 'alive').length;
  }

  /** The first run's processes were all gone before the second run started: no overlap at all. */
  assertNoOverlap(): { first: string; second: string } {
    const [first, second] = this.starts();
    assert.ok(first && second, 'the task ran twice');
    assert.ok(this.beats(first.run) > 0, "the first run's escaped child was alive");
    assert.ok(this.lastAlive(first.run) < second.ns, `the first run was alive ${(this.lastAlive(first.run) - second.ns) / 1_000_000n} ms into the second`);
    return { first: first.run, second: second.run };
  }
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

/** A `kiln agent` run as another machine would: its own session, its token in a file. */
export function startRemoteAgent(kiln: KilnProcess, poolId: string, batchUrl = kiln.batchUrl): { child: ChildProcess; root: string; output: () => string } {
  const root = tempDir('kiln-remote-root-');
  fs.chmodSync(root, 0o755);
  const token = execFileSync(process.execPath, [KILN_BIN, 'agent-token', '--pool', poolId], { encoding: 'utf8' }).trim();
  const tokenFile = path.join(tempDir('kiln-agent-token-'), 'token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const child = spawn(process.execPath, [KILN_BIN, 'agent', '--batch-url', batchUrl, '--pool', poolId, '--token-file', tokenFile, '--root', root], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, root, output: () => output };
}

export function killProcessGroup(child: ChildProcess | undefined): void {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/**
 * A TCP proxy between an agent and its server that the test can cut: `cut()` drops every
 * connection and then accepts new ones without ever answering, as a server that hangs does.
 */
export class CuttableProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private cutOff = false;
  port = 0;

  constructor(private readonly target: number) {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.cutOff) return; // held open, never answered
      const upstream = net.connect(this.target, '127.0.0.1');
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cutOff = false;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
