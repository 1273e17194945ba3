import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ACCOUNT, KEY, KILN_BIN, ROOT, freePort, tempDir, waitFor } from '../../test/helpers/kiln.js';

export const AZURITE_VERSION = '3.35.0';
const AZURITE_PREFIX = path.join(ROOT, '.bench/azurite');
const AZURITE_BIN = path.join(AZURITE_PREFIX, 'node_modules/.bin/azurite-blob');

/** A server under test, running as a child process in its own process group. */
export interface Server {
  name: string;
  pid: number;
  connectionString: string;
  /** Peak resident set so far (VmHWM), in KiB; undefined where /proc is not readable. */
  peakRssKiB(): number | undefined;
  /** SIGTERM to the process group (SIGKILL after 10 s), then removes the data directory. */
  stop(): Promise<void>;
}

// Whatever happens (error, SIGINT), no server and no temp directory outlives the benchmark.
const groups = new Set<number>();
const dirs = new Set<string>();

export function cleanupOnExit(): void {
  process.on('exit', () => {
    for (const pid of groups) killGroup(pid, 'SIGKILL');
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping servers`);
      process.exit(code);
    });
  }
}

/** A temp directory removed when the benchmark exits, or earlier by `removeDir`. */
export function benchDir(prefix: string): string {
  const dir = tempDir(prefix);
  dirs.add(dir);
  return dir;
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}

/** Installs Azurite into the git-ignored .bench/azurite unless it is already there. */
export function ensureAzurite(): void {
  const installed = path.join(AZURITE_PREFIX, 'node_modules/azurite/package.json');
  if (fs.existsSync(installed) && JSON.parse(fs.readFileSync(installed, 'utf8')).version === AZURITE_VERSION) return;
  console.log(`installing azurite@${AZURITE_VERSION} into ${path.relative(ROOT, AZURITE_PREFIX)} ...`);
  execFileSync('npm', ['install', '--prefix', AZURITE_PREFIX, '--no-audit', '--no-fund', `azurite@${AZURITE_VERSION}`], {
    stdio: 'inherit',
  });
}

/** `nodeArgs` go to Kiln's node, e.g. --cpu-prof. */
export async function startKiln(nodeArgs: string[] = []): Promise<Server> {
  const [blobPort, batchPort] = [await freePort(), await freePort()];
  return startServer('kiln', blobPort, (data) => [...nodeArgs, KILN_BIN, 'up', '--data', data, '--blob-port', String(blobPort), '--batch-port', String(batchPort)]);
}

export async function startAzurite(): Promise<Server> {
  const blobPort = await freePort();
  return startServer('azurite', blobPort, (data) => [
    AZURITE_BIN,
    ...['--blobHost', '127.0.0.1', '--blobPort', String(blobPort), '--location', data],
    ...['--skipApiVersionCheck', '--silent', '--disableTelemetry'],
  ]);
}

async function startServer(name: string, port: number, args: (dataDir: string) => string[]): Promise<Server> {
  const dataDir = benchDir(`bench-${name}-`);
  const logFile = path.join(benchDir(`bench-${name}-log-`), 'output.log');
  const log = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, args(dataDir), {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, KILN_ACCOUNTS: '' },
  });
  fs.closeSync(log);
  const pid = child.pid!;
  groups.add(pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready when it answers HTTP at all (an unauthenticated request gets a 4xx).
  await waitFor(
    `${name} to answer on port ${port}`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited early:\n${fs.readFileSync(logFile, 'utf8')}`);
      await fetch(`http://127.0.0.1:${port}/${ACCOUNT}?comp=list`, { signal: AbortSignal.timeout(1000) });
      return true;
    },
    30_000,
  );
  const blobUrl = `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    name,
    pid,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${blobUrl};`,
    peakRssKiB: () => peakRssKiB(pid),
    async stop() {
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      groups.delete(pid);
      removeDir(dataDir);
      removeDir(path.dirname(logFile));
    },
  };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function peakRssKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
