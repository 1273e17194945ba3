import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { DEV_ACCOUNT_KEY, DEV_ACCOUNT_NAME, keyInArgvWarning, makeAccount } from '../config/accounts.js';
import { startKiln, type RunningKiln } from '../server/kiln.js';

/**
 * What `kiln tutorial` needs of the tutorial's client (examples/tutorial/tutorial_client.ts). The
 * client is an example, built apart from Kiln (tsconfig.examples.json, into dist/examples/), so it is
 * loaded at run time by this shape; test/tutorial checks that the two agree.
 */
export interface TutorialOptions {
  batchAccountName: string;
  batchAccountKey: string;
  batchAccountUrl: string;
  storageAccountName: string;
  storageAccountKey: string;
  blobEndpoint: string;
  taskLanguage?: 'node' | 'python';
  outputDir: string;
  yes?: boolean;
  interactive?: boolean;
}

export interface TutorialResult {
  ok: boolean;
  elapsedMs: number;
  outputDir: string;
  outputs: { blobName: string; path: string; topWords: { word: string; count: number }[] }[];
  containersDeleted: boolean;
  jobDeleted: boolean;
  poolDeleted: boolean;
}

export interface TutorialModule {
  // A property, not a method, so that its parameter is checked strictly (contravariantly).
  runTutorial: (options: TutorialOptions) => Promise<TutorialResult>;
}

interface TutorialCliOptions {
  batchUrl?: string;
  blobUrl?: string;
  accountName: string;
  accountKey?: string;
  taskLanguage: string;
  outputDir: string;
  yes?: boolean;
}

/** The compiled client next to Kiln's own dist/ tree, or its source when Kiln runs from source (tsx). */
async function loadTutorial(): Promise<TutorialModule> {
  const candidates = [new URL('../examples/tutorial/tutorial_client.js', import.meta.url), new URL('../../examples/tutorial/tutorial_client.ts', import.meta.url)];
  const found = candidates.find((url) => fs.existsSync(url));
  if (!found) throw new Error(`the tutorial's client is not built (looked for ${candidates.map((u) => u.pathname).join(', ')}): run npm run build`);
  return (await import(found.href)) as TutorialModule;
}

export function registerTutorial(program: Command): void {
  program
    .command('tutorial')
    .description(
      "run the Azure Batch Python tutorial's client, ported to TypeScript, end to end: on an embedded Kiln (temporary, on free ports), or on a running one with --batch-url and --blob-url",
    )
    .option(
      '--batch-url <url>',
      "a running Kiln's Batch account URL, e.g. http://127.0.0.1:10100 (env KILN_BATCH_URL); without it an embedded Kiln is started",
      process.env.KILN_BATCH_URL || undefined,
    )
    .option('--blob-url <url>', "the storage account's blob URL, e.g. http://127.0.0.1:10000/devstoreaccount1 (env KILN_BLOB_URL)", process.env.KILN_BLOB_URL || undefined)
    .option('--account-name <name>', 'the Batch and storage account (env KILN_ACCOUNT_NAME)', process.env.KILN_ACCOUNT_NAME || DEV_ACCOUNT_NAME)
    .option('--account-key <base64>', "the account's key (env KILN_ACCOUNT_KEY; default: the development key)")
    .option('--task-language <language>', 'the task program the nodes run: node (JavaScript) or python', 'node')
    .option('--output-dir <dir>', 'where the output container is downloaded to', 'tutorial-output')
    .option('-y, --yes', 'delete the job and the pool without asking (without a terminal, the default answer, yes, is taken anyway)')
    .action(async (opts: TutorialCliOptions) => {
      process.exit(await tutorial(opts));
    });
}

async function tutorial(opts: TutorialCliOptions): Promise<number> {
  if (opts.taskLanguage !== 'node' && opts.taskLanguage !== 'python') throw new Error(`--task-language must be node or python, not "${opts.taskLanguage}"`);
  if (Boolean(opts.batchUrl) !== Boolean(opts.blobUrl)) throw new Error('--batch-url and --blob-url go together: both name a running Kiln, neither starts one');
  const account = makeAccount(opts.accountName, opts.accountKey ?? (process.env.KILN_ACCOUNT_KEY || DEV_ACCOUNT_KEY));
  if (opts.accountKey !== undefined) console.error(keyInArgvWarning(account.name, 'KILN_ACCOUNT_KEY'));
  const client = await loadTutorial();
  const outputDir = path.resolve(opts.outputDir);

  // Without endpoints: a Kiln of our own, in-process, on free ports, over temporary directories.
  let embedded: { kiln: RunningKiln; dirs: string[] } | undefined;
  let cleaned: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaned ??= (async () => {
      if (!embedded) return;
      await embedded.kiln.close();
      for (const dir of embedded.dirs) fs.rmSync(dir, { recursive: true, force: true });
      console.log('Stopped the embedded Kiln and removed its temporary directories.');
    })());
  const interrupted = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    let batchUrl = opts.batchUrl!;
    let blobUrl = opts.blobUrl!;
    if (!opts.batchUrl) {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tutorial-data-'));
      // Nodes' directories must be reachable by the unprivileged task user when Kiln runs as root.
      const nodesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tutorial-nodes-'));
      fs.chmodSync(nodesDir, 0o755);
      const kiln = await startKiln({ host: '127.0.0.1', blobPort: 0, batchPort: 0, dataDir, nodesDir, accounts: [account] }, (m) => console.error(`kiln: ${m}`));
      embedded = { kiln, dirs: [dataDir, nodesDir] };
      batchUrl = kiln.batchUrl;
      blobUrl = kiln.blobUrl(account.name);
      console.log(`Started an embedded Kiln: Batch ${batchUrl}, Blob ${blobUrl}`);
      console.log(`  data in ${dataDir}, nodes in ${nodesDir} (both removed at the end)`);
    } else {
      console.log(`Using the Kiln at Batch ${batchUrl}, Blob ${blobUrl}`);
    }
    console.log('');

    const result = await client.runTutorial({
      batchAccountName: account.name,
      batchAccountKey: account.keyBase64,
      batchAccountUrl: batchUrl,
      storageAccountName: account.name,
      storageAccountKey: account.keyBase64,
      blobEndpoint: blobUrl,
      taskLanguage: opts.taskLanguage,
      outputDir,
      yes: opts.yes,
      interactive: process.stdin.isTTY === true,
    });

    console.log('');
    console.log(`The tasks' outputs are in ${result.outputDir}:`);
    for (const output of result.outputs) {
      console.log(`  ${path.basename(output.path)}: ${output.topWords.map((w) => `${w.word} (${w.count})`).join(', ')}`);
    }
    const removed = ['the containers', result.jobDeleted && 'the job', result.poolDeleted && 'the pool'].filter(Boolean).join(', ');
    console.log(`Deleted ${removed}.`);
    if (embedded && !(result.jobDeleted && result.poolDeleted)) console.log('(What was kept goes with the embedded Kiln, which stops now.)');
    await cleanUp();
    if (!result.ok) console.error('The tutorial finished, but not every task succeeded (see above).');
    return result.ok ? 0 : 1;
  } catch (err) {
    console.error(`kiln tutorial: ${err instanceof Error ? err.message : String(err)}`);
    await cleanUp().catch((e: unknown) => console.error(`kiln tutorial: cleaning up: ${String(e)}`));
    return 1;
  }
}
