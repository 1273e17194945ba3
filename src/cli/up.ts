import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_BATCH_PORT, DEFAULT_BLOB_PORT, defaultDataDir, defaultNodesDir, parsePort, resolveAccounts, type KilnConfig } from '../config/config.js';
import { startKiln } from '../server/kiln.js';
import { transferPolicy } from '../agent/transfers.js';
import { DEFAULT_HTTP_TIMEOUTS, DRAIN_MS } from '../protocol/http/server.js';
import { DEFAULT_NODE_LOST_AFTER_MS, nodeTimings } from '../config/timings.js';
import { DEFAULT_ORPHAN_GRACE_MS } from '../persistence/blob/extentStore.js';
import { assertSearchableByTasks, letTasksThrough } from './searchablePath.js';
import { describeStore, parseStoreLocation } from '../config/store.js';

interface UpOptions {
  host: string;
  advertiseHost?: string;
  blobPort: string;
  batchPort: string;
  data: string;
  store?: string;
  nodesDir?: string;
  account: string[];
  accountsFile: string[];
  orphanExtentGrace: string;
  nodeLostAfter: string;
  headerTimeout: string;
  bodyIdleTimeout: string;
}

function parseMs(value: string, what: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) throw new Error(`${what} must be a positive number of milliseconds, not "${value}"`);
  return ms;
}

export function connectionString(accountName: string, keyBase64: string, blobUrl: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${accountName};AccountKey=${keyBase64};BlobEndpoint=${blobUrl};`;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start Kiln in the foreground: the Blob and Batch services and the local nodes of its pools')
    .option('--host <host>', 'address to listen on (env KILN_HOST)', process.env.KILN_HOST ?? '127.0.0.1')
    .option(
      '--advertise-host <name|IP>',
      "the host name or address put in every URL Kiln gives out (env KILN_ADVERTISE_HOST; default: --host, or for 0.0.0.0/:: this machine's first network address)",
      process.env.KILN_ADVERTISE_HOST || undefined,
    )
    .option('--blob-port <port>', 'Blob service port (env KILN_BLOB_PORT)', process.env.KILN_BLOB_PORT ?? String(DEFAULT_BLOB_PORT))
    .option('--batch-port <port>', 'Batch service port (env KILN_BATCH_PORT)', process.env.KILN_BATCH_PORT ?? String(DEFAULT_BATCH_PORT))
    .option('--data <dir>', 'data directory (env KILN_DATA)', process.env.KILN_DATA ?? defaultDataDir())
    .option(
      '--store <sqlite|postgres://…>',
      "where the Batch and Blob state is kept: sqlite (default), the data directory's embedded database, or a PostgreSQL database (postgres://USER:PASSWORD@HOST:PORT/DATABASE, docs/postgres.md) that several Kiln servers may share; blob bytes stay in the data directory either way (env KILN_STORE, better than the flag for a password)",
      process.env.KILN_STORE || undefined,
    )
    .option('--nodes-dir <dir>', "local nodes' root directories (env KILN_NODES_DIR; default: DATA/nodes, or /var/lib/kiln/nodes/… as root)", process.env.KILN_NODES_DIR)
    .option(
      '--node-lost-after <ms>',
      'a node not heard from for this long is lost and its tasks requeued; heartbeats and agent cut-off follow from it (env KILN_NODE_LOST_AFTER_MS)',
      process.env.KILN_NODE_LOST_AFTER_MS ?? String(DEFAULT_NODE_LOST_AFTER_MS),
    )
    .option(
      '--header-timeout <ms>',
      'a connection must send a complete request head within this long (env KILN_HEADER_TIMEOUT_MS)',
      process.env.KILN_HEADER_TIMEOUT_MS ?? String(DEFAULT_HTTP_TIMEOUTS.headersMs),
    )
    .option(
      '--body-idle-timeout <ms>',
      'the longest pause allowed while a request body arrives; there is no limit on total time (env KILN_BODY_IDLE_TIMEOUT_MS)',
      process.env.KILN_BODY_IDLE_TIMEOUT_MS ?? String(DEFAULT_HTTP_TIMEOUTS.bodyIdleMs),
    )
    .option(
      '--account <name:base64key>',
      'an account, repeatable; its key is then visible to every local user, prefer --accounts-file or env KILN_ACCOUNTS (separated by ";"); default devstoreaccount1 with the development key',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      '--accounts-file <path>',
      'a file of accounts, one NAME:BASE64KEY a line, readable by its owner only (chmod 600); repeatable (env KILN_ACCOUNTS_FILE)',
      (value: string, previous: string[]) => [...previous, value],
      process.env.KILN_ACCOUNTS_FILE ? [process.env.KILN_ACCOUNTS_FILE] : [],
    )
    .option(
      '--orphan-extent-grace <ms>',
      'garbage collection keeps unreferenced blob files younger than this; uploads in flight renew theirs (env KILN_ORPHAN_EXTENT_GRACE_MS)',
      process.env.KILN_ORPHAN_EXTENT_GRACE_MS ?? String(DEFAULT_ORPHAN_GRACE_MS),
    )
    .action(async (opts: UpOptions) => {
      const started = performance.now();
      const config: KilnConfig = {
        host: opts.host,
        advertiseHost: opts.advertiseHost,
        blobPort: parsePort(opts.blobPort, '--blob-port'),
        batchPort: parsePort(opts.batchPort, '--batch-port'),
        dataDir: opts.data,
        store: parseStoreLocation(opts.store),
        nodesDir: opts.nodesDir ?? defaultNodesDir(opts.data),
        accounts: resolveAccounts({ specs: opts.account, files: opts.accountsFile }),
        orphanExtentGraceMs: parseMs(opts.orphanExtentGrace, '--orphan-extent-grace'),
        timings: nodeTimings(Number(opts.nodeLostAfter)),
        http: { headersMs: parseMs(opts.headerTimeout, '--header-timeout'), bodyIdleMs: parseMs(opts.bodyIdleTimeout, '--body-idle-timeout') },
      };
      if (process.getuid?.() === 0) {
        // Kiln's own /var/lib/kiln: earlier versions made it 0700, which kept tasks out of local nodes.
        if (opts.nodesDir === undefined) letTasksThrough(path.dirname(path.dirname(config.nodesDir)));
        assertSearchableByTasks(config.nodesDir, '--nodes-dir');
      }
      transferPolicy(); // its local agents inherit KILN_TRANSFER_*: a wrong one stops kiln up, not their tasks
      const kiln = await startKiln(config);
      const lines = [
        `Kiln is up (${Math.round(performance.now() - started)} ms). Data: ${config.dataDir}`,
        `  State:         ${describeStore(config.store ?? { kind: 'sqlite' }, config.dataDir)}`,
        `  Listening on ${config.host}, advertised as ${kiln.advertised.host}${kiln.advertised.because ? ` (${kiln.advertised.because})` : ''}`,
        `  Blob service:  ${kiln.blobUrl('<account>')}`,
        `  Batch service: ${kiln.batchUrl}`,
        ...config.accounts.flatMap((a) => [
          `  Account ${a.name}`,
          `    key:               ${a.keyBase64}`,
          `    connection string: ${connectionString(a.name, a.keyBase64, kiln.blobUrl(a.name))}`,
          `    batch:             account URL ${kiln.batchUrl}, account name ${a.name}, the key above (auto-storage: its blob service)`,
        ]),
        `  Local nodes:   ${config.nodesDir} (pools' targetDedicatedNodes run here as kiln agent processes)`,
        `  Remote nodes:  KILN_AGENT_TOKEN="$(npx kiln agent-token --pool <pool>)" npx kiln agent --batch-url ${kiln.batchUrl} --pool <pool> (or --token-file <path>)`,
        'Press Ctrl+C to stop.',
      ];
      console.log(lines.join('\n'));
      // The first signal drains (requests in flight finish, for at most DRAIN_MS; new ones hear
      // 503 ServerBusy); a second one exits at once.
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          console.log(`${signal} again: exiting without draining`);
          process.exit(1);
        }
        stopping = true;
        console.log(`${signal}: shutting down (draining requests in flight, at most ${DRAIN_MS / 1000} s)`);
        kiln.close().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
