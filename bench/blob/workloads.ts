import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BlobServiceClient, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';

export const LARGE_BYTES = 1024 ** 3;
export const SMALL_COUNT = 2_000;
export const SMALL_BYTES = 4 * 1024;
export const LIST_COUNT = 10_000;
export const CONCURRENCY = 32;
const MB = 1e6; // as dd counts

/** Writes `bytes` of random data to `file`, fsynced, and returns its SHA-256. */
export function makeRandomFile(file: string, bytes: number): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(4 * 1024 * 1024);
  const fd = fs.openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, bytes - written));
      randomFillSync(part);
      hash.update(part);
      fs.writeSync(fd, part);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }), hash);
  return hash.digest('hex');
}

/** The disk's sequential write ceiling: dd of 1 GiB with fdatasync, in MB/s. */
export function ddWriteMBps(dir: string): number {
  const file = path.join(dir, 'dd.bin');
  try {
    const dd = spawnSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=1M', 'count=1024', 'conv=fdatasync'], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    const match = /^(\d+) bytes .* copied, ([\d.]+) s/m.exec(dd.stderr);
    if (dd.status !== 0 || !match) throw new Error(`dd failed: ${dd.stderr}`);
    return Number(match[1]) / MB / Number(match[2]);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Flushes every dirty page, so that one server's deferred writes never land in the other's timing. */
function settle(): void {
  execFileSync('sync');
}

// Other processes on this (shared) machine skew the figures: every timed step measures how many cores were
// busy with anything but this benchmark and its servers (from /proc; nothing where /proc is absent).
const watched = new Set<number>([process.pid]);
const interference: number[] = [];

export function watchProcess(pid: number): void {
  watched.add(pid);
}

/** Cores used by other processes during the timed steps so far: mean and worst step. */
export function otherLoad(): { mean: number; max: number } | undefined {
  if (interference.length === 0) return undefined;
  return { mean: interference.reduce((a, b) => a + b, 0) / interference.length, max: Math.max(...interference) };
}

/** CPU seconds: busy on the whole machine, and used by the watched processes. */
function cpuSeconds(): { machine: number; ours: number } | undefined {
  try {
    const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number) as number[];
    let ours = 0;
    for (const pid of watched) {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ours += Number(f[11]) + Number(f[12]); // utime, stime of all its threads
    }
    return { machine: (user! + nice! + system! + irq! + softirq! + steal!) / 100, ours: ours / 100 };
  } catch {
    return undefined;
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  settle();
  const before = cpuSeconds();
  const started = performance.now();
  await fn();
  const seconds = (performance.now() - started) / 1000;
  const after = cpuSeconds();
  if (before && after) interference.push(Math.max(0, after.machine - before.machine - (after.ours - before.ours)) / seconds);
  return seconds;
}

/** Runs fn(0..count-1) with at most `concurrency` calls in flight. */
async function pool(count: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

let containerSeq = 0;
async function newContainer(service: BlobServiceClient, kind: string): Promise<ContainerClient> {
  const container = service.getContainerClient(`bench-${kind}-${Date.now()}-${containerSeq++}`);
  await container.create();
  return container;
}

export function serviceClient(connectionString: string): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(connectionString);
}

/** uploadFile then downloadToFile of `source` (default options), in MB/s; the copy is checked untimed. */
export async function largeTransfer(service: BlobServiceClient, source: string, sourceSha256: string, scratchDir: string): Promise<{ uploadMBps: number; downloadMBps: number }> {
  const container = await newContainer(service, 'large');
  const blob = container.getBlockBlobClient('1gib.bin');
  const copy = path.join(scratchDir, 'download.bin');
  try {
    const up = await timed(async () => void (await blob.uploadFile(source)));
    const down = await timed(async () => void (await blob.downloadToFile(copy)));
    if ((await sha256File(copy)) !== sourceSha256) throw new Error('the downloaded 1 GiB blob differs from the source');
    return { uploadMBps: LARGE_BYTES / MB / up, downloadMBps: LARGE_BYTES / MB / down };
  } finally {
    fs.rmSync(copy, { force: true });
    await container.delete();
  }
}

/** 2,000 × 4 KiB `upload`, then 2,000 `download`s, CONCURRENCY at a time, in ops/s; each body is checked. */
export async function smallOps(service: BlobServiceClient): Promise<{ uploadOps: number; downloadOps: number }> {
  const container = await newContainer(service, 'small');
  try {
    const bodies = Array.from({ length: SMALL_COUNT }, () => randomBytes(SMALL_BYTES));
    const blobs = bodies.map((_, i) => container.getBlockBlobClient(`small-${String(i).padStart(5, '0')}`));
    const up = await timed(() => pool(SMALL_COUNT, CONCURRENCY, async (i) => void (await blobs[i]!.upload(bodies[i]!, SMALL_BYTES))));
    const down = await timed(() =>
      pool(SMALL_COUNT, CONCURRENCY, async (i) => {
        const body = await readAll((await blobs[i]!.download()).readableStreamBody!);
        if (!body.equals(bodies[i]!)) throw new Error(`blob ${i} came back different`);
      }),
    );
    return { uploadOps: SMALL_COUNT / up, downloadOps: SMALL_COUNT / down };
  } finally {
    await container.delete();
  }
}

/** A container holding LIST_COUNT empty blobs, created CONCURRENCY at a time. */
export async function listingContainer(service: BlobServiceClient): Promise<ContainerClient> {
  const container = await newContainer(service, 'list');
  await pool(LIST_COUNT, CONCURRENCY, async (i) => {
    await container.getBlockBlobClient(`blob-${String(i).padStart(5, '0')}`).upload('', 0);
  });
  return container;
}

/** Seconds for one full listBlobsFlat iteration, pages of 5,000. */
export async function listAll(container: ContainerClient): Promise<number> {
  let count = 0;
  const seconds = await timed(async () => {
    for await (const page of container.listBlobsFlat().byPage({ maxPageSize: 5000 })) count += page.segment.blobItems.length;
  });
  if (count !== LIST_COUNT) throw new Error(`listed ${count} blobs, expected ${LIST_COUNT}`);
  return seconds;
}

/** Seconds to fetch every listing page over plain HTTP (a container SAS), following NextMarker, unparsed. */
export async function listAllRaw(container: ContainerClient): Promise<number> {
  const sas = new URL(await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('l'), expiresOn: new Date(Date.now() + 3600_000) }));
  let count = 0;
  const seconds = await timed(async () => {
    let marker = '';
    do {
      const url = new URL(sas);
      url.searchParams.set('restype', 'container');
      url.searchParams.set('comp', 'list');
      url.searchParams.set('maxresults', '5000');
      if (marker) url.searchParams.set('marker', marker);
      const text = await (await fetch(url)).text();
      count += text.split('<Blob>').length - 1;
      marker = /<NextMarker>([^<]*)<\/NextMarker>/.exec(text)?.[1] ?? '';
    } while (marker);
  });
  if (count !== LIST_COUNT) throw new Error(`listed ${count} blobs raw, expected ${LIST_COUNT}`);
  return seconds;
}
