import type { Command } from 'commander';
import { DEFAULT_BATCH_PORT, DEFAULT_BLOB_PORT, defaultDataDir, defaultNodesDir, parsePort, resolveAccounts, type KilnConfig } from '../config/config.js';
import { startKiln } from '../server/kiln.js';
import { DEFAULT_NODE_LOST_AFTER_MS, nodeTimings } from '../config/timings.js';

interface UpOptions {
  host: string;
  blobPort: string;
  batchPort: string;
  data: string;
  nodesDir?: string;
  account: string[];
  nodeLostAfter: string;
}

export function connectionString(accountName: string, keyBase64: string, blobUrl: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${accountName};AccountKey=${keyBase64};BlobEndpoint=${blobUrl};`;
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start Kiln in the foreground: the Blob and Batch services and the local nodes of its pools')
    .option('--host <host>', 'address to listen on (env KILN_HOST)', process.env.KILN_HOST ?? '127.0.0.1')
    .option('--blob-port <port>', 'Blob service port (env KILN_BLOB_PORT)', process.env.KILN_BLOB_PORT ?? String(DEFAULT_BLOB_PORT))
    .option('--batch-port <port>', 'Batch service port (env KILN_BATCH_PORT)', process.env.KILN_BATCH_PORT ?? String(DEFAULT_BATCH_PORT))
    .option('--data <dir>', 'data directory (env KILN_DATA)', process.env.KILN_DATA ?? defaultDataDir())
    .option('--nodes-dir <dir>', "local nodes' root directories (env KILN_NODES_DIR; default: DATA/nodes, or /var/lib/kiln/nodes/… as root)", process.env.KILN_NODES_DIR)
    .option('--node-lost-after <ms>', 'a node not heard from for this long is lost and its tasks requeued; heartbeats and agent cut-off follow from it (env KILN_NODE_LOST_AFTER_MS)', process.env.KILN_NODE_LOST_AFTER_MS ?? String(DEFAULT_NODE_LOST_AFTER_MS))
    .option(
      '--account <name:base64key>',
      'an account, repeatable (env KILN_ACCOUNTS, separated by ";"); default devstoreaccount1 with the development key',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .action(async (opts: UpOptions) => {
      const started = performance.now();
      const config: KilnConfig = {
        host: opts.host,
        blobPort: parsePort(opts.blobPort, '--blob-port'),
        batchPort: parsePort(opts.batchPort, '--batch-port'),
        dataDir: opts.data,
        nodesDir: opts.nodesDir ?? defaultNodesDir(opts.data),
        accounts: resolveAccounts(opts.account),
        timings: nodeTimings(Number(opts.nodeLostAfter)),
      };
      const kiln = await startKiln(config);
      const lines = [
        `Kiln is up (${Math.round(performance.now() - started)} ms). Data: ${config.dataDir}`,
        `  Blob service:  http://${config.host}:${kiln.blobPort}/<account>`,
        `  Batch service: ${kiln.batchUrl}`,
        ...config.accounts.flatMap((a) => [
          `  Account ${a.name}`,
          `    key:               ${a.keyBase64}`,
          `    connection string: ${connectionString(a.name, a.keyBase64, kiln.blobUrl(a.name))}`,
          `    batch:             account URL ${kiln.batchUrl}, account name ${a.name}, the key above (auto-storage: its blob service)`,
        ]),
        `  Local nodes:   ${config.nodesDir} (pools' targetDedicatedNodes run here as kiln agent processes)`,
        `  Remote nodes:  kiln agent --batch-url ${kiln.batchUrl} --pool <pool> --token "$(kiln agent-token --pool <pool>)"`,
        'Press Ctrl+C to stop.',
      ];
      console.log(lines.join('\n'));
      const stop = (signal: string) => {
        console.log(`${signal}: shutting down`);
        kiln.close().then(
          () => process.exit(0),
          (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
}
