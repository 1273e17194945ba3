// Kiln's Blob service against Azurite, both as real servers, driven by @azure/storage-blob.
// Usage: npm run bench:blob [-- --repeat N] [--repeat-large N] [--warmup N] [--write-docs] [--kiln-cpu-prof DIR]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../../test/helpers/kiln.js';
import { AZURITE_VERSION, benchDir, cleanupOnExit, ensureAzurite, removeDir, startAzurite, startKiln, type Server } from './servers.js';
import * as w from './workloads.js';

const { values: args } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    'repeat-large': { type: 'string', default: '1' },
    warmup: { type: 'string', default: '2' }, // untimed 4 KiB rounds per server first: client and servers reach steady state
    'write-docs': { type: 'boolean', default: false },
    'kiln-cpu-prof': { type: 'string' }, // a directory: Kiln runs under node --cpu-prof and writes its profile there
  },
});
const repeat = positiveInt(args.repeat, '--repeat');
const repeatLarge = positiveInt(args['repeat-large'], '--repeat-large');
const warmup = Number(args.warmup);
if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup must be a whole number, not "${args.warmup}"`);

type Metric = 'upload1g' | 'download1g' | 'upload4k' | 'download4k' | 'list10k' | 'list10kRaw';
interface Row {
  metric: Metric;
  label: string;
  unit: string;
  target: number;
  /** true where smaller is better: the ratio is then Azurite / Kiln. */
  lowerIsBetter?: boolean;
}
const ROWS: Row[] = [
  { metric: 'upload1g', label: '1 GiB `uploadFile`', unit: 'MB/s', target: 2 },
  { metric: 'download1g', label: '1 GiB `downloadToFile`', unit: 'MB/s', target: 2 },
  { metric: 'upload4k', label: `${w.SMALL_COUNT.toLocaleString('en')} × 4 KiB \`upload\`, ${w.CONCURRENCY} at a time`, unit: 'ops/s', target: 2 },
  { metric: 'download4k', label: `${w.SMALL_COUNT.toLocaleString('en')} × 4 KiB \`download\`, ${w.CONCURRENCY} at a time`, unit: 'ops/s', target: 2 },
  { metric: 'list10k', label: `list ${w.LIST_COUNT.toLocaleString('en')} blobs (\`listBlobsFlat\`, pages of 5,000)`, unit: 's', target: 5, lowerIsBetter: true },
  // The same pages fetched over plain HTTP and not parsed: the servers' side of listing alone, since
  // the SDK's XML parsing costs the client more than either server spends.
  { metric: 'list10kRaw', label: `list ${w.LIST_COUNT.toLocaleString('en')} blobs, raw HTTP pages (no client-side parsing)`, unit: 's', target: 5, lowerIsBetter: true },
];

type Samples = Record<Metric, number[]>;
const emptySamples = (): Samples => ({ upload1g: [], download1g: [], upload4k: [], download4k: [], list10k: [], list10kRaw: [] });

/** The code that `npm run build` just compiled: the commit, and whether src/ differs from it. */
function kilnVersion(): string {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const changed = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean); // "XY path"
  const dirs = [...new Set(changed.map((line) => line.slice(3).replace(/\/$/, '/.')).map((file) => path.dirname(file)))].sort();
  return git('rev-parse', '--short', 'HEAD').trim() + (dirs.length > 0 ? ` plus uncommitted changes in ${dirs.join(', ')}` : '');
}

async function main(): Promise<void> {
  const kilnAt = kilnVersion();
  cleanupOnExit();
  ensureAzurite();
  const scratch = benchDir('bench-blob-');
  const servers: Server[] = [];
  try {
    log('disk write ceiling (dd, 1 GiB, fdatasync) ...');
    const ddMBps = w.ddWriteMBps(scratch);
    log('creating the 1 GiB source file ...');
    const source = path.join(scratch, 'source.bin');
    const sourceSha256 = w.makeRandomFile(source, w.LARGE_BYTES);

    const cpuProf = args['kiln-cpu-prof'] && path.resolve(args['kiln-cpu-prof']);
    servers.push(await startKiln(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : []), await startAzurite());
    const [kiln, azurite] = servers as [Server, Server];
    for (const s of servers) w.watchProcess(s.pid);
    const samples = new Map(servers.map((s) => [s, emptySamples()]));
    const clients = new Map(servers.map((s) => [s, w.serviceClient(s.connectionString)]));
    // Alternate which server goes first, so that drift hits both alike.
    const turns = (rep: number) => (rep % 2 === 0 ? [kiln, azurite] : [azurite, kiln]);
    const record = (s: Server, metric: Metric, value: number) => {
      samples.get(s)![metric].push(value);
      log(`  ${s.name.padEnd(8)} ${metric.padEnd(10)} ${format(value)}`);
    };

    for (let rep = 0; rep < repeatLarge; rep++) {
      log(`1 GiB transfers, round ${rep + 1}/${repeatLarge}`);
      for (const s of turns(rep)) {
        const r = await w.largeTransfer(clients.get(s)!, source, sourceSha256, scratch);
        record(s, 'upload1g', r.uploadMBps);
        record(s, 'download1g', r.downloadMBps);
      }
    }
    // Untimed warm-up: the client and both servers take thousands of requests to reach steady state.
    for (let rep = 0; rep < warmup; rep++) {
      log(`4 KiB operations, warm-up round ${rep + 1}/${warmup} (untimed)`);
      for (const s of turns(rep)) await w.smallOps(clients.get(s)!);
    }
    for (let rep = 0; rep < repeat; rep++) {
      log(`4 KiB operations, round ${rep + 1}/${repeat}`);
      for (const s of turns(rep)) {
        const r = await w.smallOps(clients.get(s)!);
        record(s, 'upload4k', r.uploadOps);
        record(s, 'download4k', r.downloadOps);
      }
    }
    log(`creating ${w.LIST_COUNT} blobs to list on each server, and listing them once (untimed) ...`);
    const listed = new Map<Server, Awaited<ReturnType<typeof w.listingContainer>>>();
    for (const s of servers) {
      listed.set(s, await w.listingContainer(clients.get(s)!));
      await w.listAll(listed.get(s)!);
    }
    for (let rep = 0; rep < repeat; rep++) {
      log(`listing, round ${rep + 1}/${repeat}`);
      for (const s of turns(rep)) {
        record(s, 'list10k', await w.listAll(listed.get(s)!));
        record(s, 'list10kRaw', await w.listAllRaw(listed.get(s)!));
      }
    }

    const report = render(samples.get(kiln)!, samples.get(azurite)!, ddMBps, kiln.peakRssKiB(), azurite.peakRssKiB(), w.otherLoad());
    console.log(`\n${report}`);
    if (args['write-docs']) writeDocs(report, kilnAt);
  } finally {
    for (const s of servers) await s.stop();
    removeDir(scratch);
  }
}

function render(
  kiln: Samples,
  azurite: Samples,
  ddMBps: number,
  kilnRssKiB: number | undefined,
  azuriteRssKiB: number | undefined,
  other: { mean: number; max: number } | undefined,
): string {
  const lines = ['| metric | Kiln | Azurite | ratio | target | result |', '|---|---:|---:|---:|---:|---|'];
  for (const row of ROWS) {
    const k = median(kiln[row.metric]);
    const a = median(azurite[row.metric]);
    const ratio = row.lowerIsBetter ? a / k : k / a;
    const target = row.lowerIsBetter ? `≥ ${row.target}× faster` : `≥ ${row.target}×`;
    lines.push(
      `| ${row.label} | ${cell(kiln[row.metric], row.unit)} | ${cell(azurite[row.metric], row.unit)} | ${ratio.toFixed(2)}× | ${target} | ${ratio >= row.target ? 'PASS' : '**MISS**'} |`,
    );
  }
  const mib = (kib?: number) => (kib === undefined ? 'n/a' : `${Math.round(kib / 1024)} MiB`);
  lines.push(
    '',
    `Medians (min–max) of ${repeatLarge} round(s) for the 1 GiB transfers and of ${repeat} round(s) for the rest, ` +
      `which follow ${warmup} untimed warm-up round(s) of the 4 KiB workload and one untimed listing per server; ` +
      'ratio = Kiln / Azurite of the medians (for listing: Azurite time / Kiln time). MB = 10^6 bytes. ' +
      'Both servers run side by side on the same machine as the client; `sync` runs before every timed step.',
    `Disk write ceiling (\`dd bs=1M count=1024 conv=fdatasync\`): ${format(ddMBps)} MB/s.`,
    `Peak RSS (VmHWM) at the end of the run: Kiln ${mib(kilnRssKiB)}, Azurite ${mib(azuriteRssKiB)}.`,
  );
  if (other) {
    lines.push(
      `Other processes on the machine (kernel threads included) kept ${other.mean.toFixed(2)} of ${os.availableParallelism()} cores busy ` +
        `during the timed steps on average, ${other.max.toFixed(2)} in the worst one.`,
    );
  }
  return lines.join('\n');
}

const START = '<!-- bench/blob:start -->';
const END = '<!-- bench/blob:end -->';

/** Replaces the generated part of the "Blob service (bench/blob)" section of docs/benchmarks.md. */
function writeDocs(report: string, kilnAt: string): void {
  const file = path.join(ROOT, 'docs/benchmarks.md');
  const sdk = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/@azure/storage-blob/package.json'), 'utf8')).version;
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const generated = [
    START,
    `Run on ${new Date().toISOString().slice(0, 10)}, Kiln at ${kilnAt}, with \`${['npm run bench:blob', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ')}\`.`,
    `Machine: ${os.availableParallelism()} CPUs (\`nproc\`; ${cpu}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}; ` +
      `Azurite ${AZURITE_VERSION}, @azure/storage-blob ${sdk}.`,
    '',
    report,
    END,
  ].join('\n');
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const [start, end] = [text.indexOf(START), text.indexOf(END)];
  if (start >= 0 && end > start) text = text.slice(0, start) + generated + text.slice(end + END.length);
  else text = `${text.trimEnd()}\n\n## Blob service (bench/blob)\n\n${generated}\n`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  log(`wrote ${path.relative(ROOT, file)}`);
}

/** The median, with the range when there are several samples. */
function cell(values: number[], unit: string): string {
  const range = values.length > 1 ? ` (${format(Math.min(...values))}–${format(Math.max(...values))})` : '';
  return `${format(median(values))} ${unit}${range}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString('en') : value.toPrecision(3);
}

function positiveInt(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, not "${value}"`);
  return n;
}

function log(message: string): void {
  console.error(message);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
