import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const KILN_BIN = path.join(ROOT, 'dist/cli/main.js');
export const ACCOUNT = 'devstoreaccount1';
export const KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const tempDirs = new Set<string>();

/** A fresh temporary directory, removed when the test process exits (tests may remove it earlier). */
export function tempDir(prefix = 'kiln-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

// Agents that tests start keep their node tokens (src/agent/nodeTokenStore.ts) in a directory of
// this test process, not in the machine's /var/lib/kiln/agents: no test leaves one behind.
process.env.KILN_AGENT_STATE_DIR ??= path.join(tempDir('kiln-agent-state-'), 'agents');

/** A temporary directory for local nodes: unlike the data directory, non-admin tasks must get through it (kiln up refuses one they cannot). */
export function nodesTempDir(prefix = 'kiln-nodes-'): string {
  const dir = tempDir(prefix);
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface KilnProcess {
  child: ChildProcess;
  dataDir: string;
  nodesDir: string;
  blobPort: number;
  blobUrl: string;
  batchPort: number;
  /** The Batch account URL, as clients are given it. */
  batchUrl: string;
  connectionString: string;
  output(): string;
  blobService(): BlobServiceClient;
  /** The official Batch SDK, unchanged, signed with the dev account's key. */
  batchClient(): BatchServiceClient;
  /** SIGKILL of the whole process group: what a crash looks like. */
  kill9(): Promise<void>;
  /** SIGTERM, waiting for a clean exit. */
  stop(): Promise<number | null>;
}

/** Starts `kiln up` as a real child process in its own process group, on free ports. */
export async function startKiln(
  opts: {
    dataDir?: string;
    nodesDir?: string;
    blobPort?: number;
    batchPort?: number;
    extraArgs?: string[];
    /** Node's own flags for `kiln up` (a benchmark's --cpu-prof). */ nodeArgs?: string[];
  } = {},
): Promise<KilnProcess> {
  const dataDir = opts.dataDir ?? tempDir();
  const nodesDir = opts.nodesDir ?? nodesTempDir();
  const blobPort = opts.blobPort ?? (await freePort());
  const batchPort = opts.batchPort ?? (await freePort());
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      KILN_BIN,
      'up',
      '--data',
      dataDir,
      '--blob-port',
      String(blobPort),
      '--batch-port',
      String(batchPort),
      '--nodes-dir',
      nodesDir,
      ...(opts.extraArgs ?? []),
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KILN_ACCOUNTS: '' } },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  running.add(child);
  void exited.then(() => running.delete(child));
  await waitFor('kiln up to be ready', () => {
    if (child.exitCode !== null) throw new Error(`kiln exited early: ${output}`);
    return output.includes('Kiln is up') ? true : undefined;
  });
  const blobUrl = `http://127.0.0.1:${blobPort}/${ACCOUNT}`;
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};BlobEndpoint=${blobUrl};`;
  return {
    child,
    dataDir,
    nodesDir,
    blobPort,
    blobUrl,
    batchPort,
    batchUrl: `http://127.0.0.1:${batchPort}`,
    connectionString,
    output: () => output,
    blobService: () => BlobServiceClient.fromConnectionString(connectionString),
    batchClient: () => new BatchServiceClient(new BatchSharedKeyCredentials(ACCOUNT, KEY), `http://127.0.0.1:${batchPort}`),
    async kill9() {
      killGroup(child, 'SIGKILL');
      await exited;
    },
    async stop() {
      killGroup(child, 'SIGTERM');
      return exited;
    },
  };
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

// No test leaves a Kiln behind, even when it fails before its own cleanup.
process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});
// Nor a benchmark stopped by `timeout` (SIGTERM) or ^C: Node's default for either skips 'exit'.
for (const [signal, code] of [
  ['SIGTERM', 143],
  ['SIGINT', 130],
] as const) {
  process.once(signal, () => process.exit(code));
}

/** How many extent files (blob and block contents) a data directory holds. */
export function countExtents(dataDir: string): number {
  const root = path.join(dataDir, 'extents');
  return fs.readdirSync(root).reduce((n, dir) => n + fs.readdirSync(path.join(root, dir)).length, 0);
}

export const sharedKeyCredential = () => new StorageSharedKeyCredential(ACCOUNT, KEY);
