// The Batch API under load: 100,000 tasks added to one job through addtaskcollection (100 per call,
// 8 calls in flight) and listed back with listNext, all through @azure/batch against a real `kiln up`.
// Prints tasks added per second, tasks listed per second and the server's peak RSS (VmHWM).
// Usage: npm run bench:batch-api [-- --tasks N] [--concurrency N] [--write-docs] [--cpu-prof DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { BatchServiceClient } from '@azure/batch';
import { batchRequest } from '../../test/helpers/batchHttp.js';
import { ROOT, startKiln } from '../../test/helpers/kiln.js';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '8' },
    // The SDK's request serializer costs the client more than the server spends per task, so the
    // calls come from this many client threads (the concurrency is split between them).
    'client-threads': { type: 'string', default: '2' },
    'write-docs': { type: 'boolean', default: false },
    /** V8's CPU profile of kiln up, written into this directory when it stops. */
    'cpu-prof': { type: 'string' },
  },
});
const TASKS = Number(args.tasks);
const CONCURRENCY = Number(args.concurrency);
const CLIENT_THREADS = Number(args['client-threads']);
const PER_CALL = 100;
const TARGETS = { addRate: 20_000, listRate: 50_000, rssMiB: 500 };

const log = (m: string) => console.error(`[bench:batch-api] ${m}`);

/** Peak resident set of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

interface AddWork {
  batchUrl: string;
  jobId: string;
  /** The calls (blocks of 100 task ids) this thread makes, and how many at a time. */
  calls: number[];
  concurrency: number;
}

/** One client thread: its share of the addtaskcollection calls, `concurrency` in flight. */
async function addCalls(work: AddWork): Promise<void> {
  const { BatchServiceClient, BatchSharedKeyCredentials } = await import('@azure/batch');
  const { ACCOUNT, KEY } = await import('../../test/helpers/kiln.js');
  const client = new BatchServiceClient(new BatchSharedKeyCredentials(ACCOUNT, KEY), work.batchUrl);
  // Loaded and compiled: wait for the start signal, so that the clock measures requests only.
  await new Promise<void>((resolve) => {
    parentPort!.once('message', () => resolve());
    parentPort!.postMessage({ ready: true });
  });
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = work.calls[next++];
      if (i === undefined) return;
      const tasks = Array.from({ length: Math.min(PER_CALL, TASKS - i * PER_CALL) }, (_, k) => {
        const n = i * PER_CALL + k;
        return { id: `task-${String(n).padStart(6, '0')}`, commandLine: `/bin/sh -c "echo task ${n}"` };
      });
      const result = await client.task.addCollection(work.jobId, tasks);
      const failed = result.value?.filter((r) => r.status !== 'success') ?? [];
      if (failed.length > 0) throw new Error(`addtaskcollection refused ${failed.length} tasks: ${JSON.stringify(failed[0])}`);
    }
  };
  await Promise.all(Array.from({ length: work.concurrency }, worker));
}

async function addAll(batchUrl: string, jobId: string): Promise<number> {
  const calls = Array.from({ length: Math.ceil(TASKS / PER_CALL) }, (_, i) => i);
  const threads = Math.max(1, Math.min(CLIENT_THREADS, CONCURRENCY));
  const workers: Worker[] = [];
  let ready = 0;
  let go: () => void = () => {};
  const allReady = new Promise<void>((resolve) => (go = resolve));
  const done = Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const work: AddWork = {
        batchUrl,
        jobId,
        calls: calls.filter((i) => i % threads === t),
        concurrency: Math.floor(CONCURRENCY / threads) + (t < CONCURRENCY % threads ? 1 : 0),
      };
      const worker = new Worker(new URL('./clientThread.mjs', import.meta.url), { workerData: work, argv: process.argv.slice(2) });
      workers.push(worker);
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: { ready?: boolean; error?: string }) => {
          if (m.ready) {
            if (++ready === threads) go();
          } else if (m.error) reject(new Error(m.error));
          else resolve();
        });
        worker.once('error', reject);
        worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client thread exited with ${code}`))));
      });
    }),
  );
  await Promise.race([allReady, done]);
  const started = performance.now();
  for (const worker of workers) worker.postMessage('go');
  await done;
  return (performance.now() - started) / 1000;
}

async function listAll(client: BatchServiceClient, jobId: string): Promise<{ seconds: number; count: number; pages: number }> {
  const started = performance.now();
  let page = await client.task.list(jobId);
  let count = page.length;
  let pages = 1;
  while (page.odatanextLink) {
    page = await client.task.listNext(page.odatanextLink);
    count += page.length;
    pages++;
  }
  return { seconds: (performance.now() - started) / 1000, count, pages };
}

/**
 * The same listing without the SDK's model deserializer (which costs the client several times what
 * the server spends per task): each page signed by the SDK's credentials, parsed with JSON.parse,
 * and the nextLink followed verbatim, as the Python SDK does.
 */
async function listAllRaw(baseUrl: string, jobId: string): Promise<{ seconds: number; count: number; pages: number }> {
  const started = performance.now();
  let res = await batchRequest(baseUrl, 'GET', `/jobs/${jobId}/tasks`);
  let count = 0;
  let pages = 0;
  for (;;) {
    if (res.status !== 200) throw new Error(`list answered ${res.status}: ${res.text}`);
    const body = res.json() as { value: unknown[]; 'odata.nextLink'?: string };
    count += body.value.length;
    pages++;
    const next = body['odata.nextLink'];
    if (!next) break;
    const url = new URL(next);
    res = await batchRequest(baseUrl, 'GET', url.pathname, { noApiVersion: true, query: url.search.slice(1) });
  }
  return { seconds: (performance.now() - started) / 1000, count, pages };
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-bench-batch-'));
  const kiln = await startKiln({ dataDir, ...(args['cpu-prof'] ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] } : {}) });
  try {
    const client = kiln.batchClient();
    await client.pool.add({
      id: 'bench-pool',
      vmSize: 'standard_d2s_v3',
      virtualMachineConfiguration: { imageReference: { publisher: 'debian', offer: 'debian-12', sku: '12' }, nodeAgentSKUId: 'batch.node.debian 12' },
      targetDedicatedNodes: 0,
    });
    await client.job.add({ id: 'bench-job', poolInfo: { poolId: 'bench-pool' } });
    log(`adding ${TASKS.toLocaleString('en')} tasks, ${PER_CALL} per call, ${CONCURRENCY} calls in flight from ${CLIENT_THREADS} client threads ...`);
    const addSeconds = await addAll(kiln.batchUrl, 'bench-job');
    const counts = await client.job.getTaskCounts('bench-job');
    if (counts.taskCounts.active !== TASKS) throw new Error(`expected ${TASKS} active tasks, task counts say ${counts.taskCounts.active}`);
    log('listing them all (pages of 1,000, listNext) ...');
    const listed = await listAll(client, 'bench-job');
    if (listed.count !== TASKS) throw new Error(`listed ${listed.count} tasks, expected ${TASKS}`);
    log('listing them all again without the SDK deserializer (JSON.parse, nextLink followed verbatim) ...');
    const raw = await listAllRaw(kiln.batchUrl, 'bench-job');
    if (raw.count !== TASKS) throw new Error(`listed ${raw.count} tasks raw, expected ${TASKS}`);
    const rss = peakRssMiB(kiln.child.pid!);
    const addRate = TASKS / addSeconds;
    const listRate = listed.count / listed.seconds;
    const rawRate = raw.count / raw.seconds;
    const rows: [string, string, string, boolean][] = [
      ['tasks added / s (`task.addCollection`)', Math.round(addRate).toLocaleString('en'), `≥ ${TARGETS.addRate.toLocaleString('en')}`, addRate >= TARGETS.addRate],
      [
        'tasks listed / s (`task.list` + `listNext`, SDK deserializing)',
        Math.round(listRate).toLocaleString('en'),
        `≥ ${TARGETS.listRate.toLocaleString('en')}`,
        listRate >= TARGETS.listRate,
      ],
      [
        'tasks listed / s (same pages, SDK-signed, `JSON.parse` only)',
        Math.round(rawRate).toLocaleString('en'),
        `≥ ${TARGETS.listRate.toLocaleString('en')}`,
        rawRate >= TARGETS.listRate,
      ],
      ['server peak RSS (VmHWM), MiB', rss.toFixed(0), `≤ ${TARGETS.rssMiB}`, rss <= TARGETS.rssMiB],
    ];
    const table = ['| Measure | Kiln | Target | Met |', '|---|---:|---:|:-:|', ...rows.map(([m, v, t, ok]) => `| ${m} | ${v} | ${t} | ${ok ? 'yes' : 'no'} |`)].join('\n');
    const detail =
      `${TASKS.toLocaleString('en')} tasks added in ${addSeconds.toFixed(2)} s; listed in ${listed.seconds.toFixed(2)} s through the SDK ` +
      `and in ${raw.seconds.toFixed(2)} s raw, ${listed.pages} pages each.`;
    console.log(`${table}\n\n${detail}`);
    if (args['write-docs']) writeDocs(table, detail);
  } finally {
    await kiln.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function writeDocs(table: string, detail: string): void {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  const heading = '## Batch API (bench/batch-api)';
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const section = [
    heading,
    '',
    `Command: \`npm run bench:batch-api -- --write-docs\`. ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores (${cpu}), Node ${process.version}.`,
    'Client and server share the machine: @azure/batch 10.2.0 (unchanged) drives a real `kiln up` over loopback HTTP,',
    `adding ${TASKS.toLocaleString('en')} tasks to one job through \`addtaskcollection\` (100 per call, ${CONCURRENCY} calls in flight,`,
    `made by ${CLIENT_THREADS} client threads: the SDK's request serializer costs more per task than the server does),`,
    "then listing them all with `task.list` + `listNext` (pages of 1,000). Peak RSS is the server's VmHWM from /proc.",
    "The SDK's model (de)serializer, not the server, bounds the SDK rows on 2 cores: its list row is client CPU; the raw row",
    "reads the same pages, signed by the SDK's own credentials, following each nextLink verbatim. On a shared 2-core machine",
    'single runs vary a lot; repeat before comparing.',
    '',
    table,
    '',
    detail,
    '',
  ].join('\n');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const start = current.indexOf(heading);
  let updated: string;
  if (start < 0) {
    updated = `${current.trimEnd()}\n\n${section}`;
  } else {
    const end = current.indexOf('\n## ', start + heading.length);
    updated = current.slice(0, start) + section + (end < 0 ? '' : current.slice(end + 1));
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, updated);
  log(`wrote ${path.relative(ROOT, file)}`);
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  addCalls(workerData as AddWork).then(
    () => parentPort!.postMessage({}),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
}
