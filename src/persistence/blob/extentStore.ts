import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { CoalescedSync } from '../durability/coalescedSync.js';
import { ensurePrivateDir, fsyncDir, fsyncDirSync, PRIVATE_FILE_MODE } from '../durability/files.js';
import { ExtentTooLargeError, type ByteStore, type Segment, type WrittenExtent } from '../../domain/blob/byteStore.js';

const EXTENT_ID = /^[0-9a-f]{32}$/;

/** How long an extent nobody refers to is kept: an upload in flight renews its extent's time meanwhile. */
export const DEFAULT_ORPHAN_GRACE_MS = 60 * 60 * 1000;
/** The shortest grace allowed: far longer than the moment between an extent's last write and its commit. */
export const MIN_ORPHAN_GRACE_MS = 1000;

export interface ExtentStoreOptions {
  /** Unreferenced extents younger than this are never removed by `sweepOrphans` (default one hour). */
  orphanGraceMs?: number;
  /**
   * Other servers write to this directory too (the scale-out issue's shared blob directory). Without it
   * the directory is this server's alone, under its data directory's lock, so the sweep at start,
   * before any upload is taken, removes every orphan at once.
   */
  shared?: boolean;
}

/**
 * The byte store: immutable files ("extents") under DATA/extents, never edited in place. A blob or block
 * points at ranges of them. A write is visible to nobody until the metadata store records it, so a
 * crash mid-upload leaves only an orphan file, which `sweepOrphans` removes.
 *
 * Uploads in flight are not referenced yet, so the sweep must tell them from orphans, also when several
 * servers share one extent directory: an extent's modification time is its lease. Every write renews it,
 * and so does a timer while an upload waits for its client, so only extents whose writer is gone grow
 * older than the grace period; the sweep removes unreferenced extents older than that alone. Within one
 * process, extents being written are never swept at all. The one exception is the sweep at start of a
 * directory that is not shared: no upload can be in flight then.
 *
 * Durability: `write` resolves once the bytes and the file's name are on the disk (the file and its
 * directory fsynced), so the metadata that refers to it may be committed.
 */
export class ExtentStore implements ByteStore {
  private readonly root: string;
  private readonly graceMs: number;
  private readonly shared: boolean;
  private readonly readers = new Map<string, number>();
  private readonly writing = new Set<string>();
  private readonly deleteWhenUnread = new Set<string>();
  /** One directory fsync covers every file created in it before the fsync began. */
  private readonly dirSyncs = new Map<string, CoalescedSync>();

  constructor(dataDir: string, opts: ExtentStoreOptions = {}) {
    this.graceMs = opts.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
    this.shared = opts.shared ?? false;
    if (!(this.graceMs >= MIN_ORPHAN_GRACE_MS)) throw new Error(`the orphan grace period must be at least ${MIN_ORPHAN_GRACE_MS} ms`);
    this.root = path.join(dataDir, 'extents');
    const created = !fs.existsSync(this.root);
    ensurePrivateDir(this.root);
    for (let i = 0; i < 256; i++) ensurePrivateDir(this.dir(i.toString(16).padStart(2, '0')));
    if (created) {
      fsyncDirSync(this.root);
      fsyncDirSync(dataDir);
    }
  }

  private dir(prefix: string): string {
    return path.join(this.root, prefix);
  }

  private file(extent: string): string {
    if (!EXTENT_ID.test(extent)) throw new Error(`bad extent id ${extent}`);
    return path.join(this.dir(extent.slice(0, 2)), extent);
  }

  private syncDir(extent: string): Promise<void> {
    const prefix = extent.slice(0, 2);
    let sync = this.dirSyncs.get(prefix);
    if (!sync) this.dirSyncs.set(prefix, (sync = new CoalescedSync(() => fsyncDir(this.dir(prefix)))));
    return sync.sync();
  }

  /**
   * Streams `body` into a new extent. Resolves once all bytes and the file's name are on the disk. On
   * error the partial file is removed.
   */
  async write(body: Readable, opts: { md5: boolean; maxLength?: number }): Promise<WrittenExtent> {
    const extent = randomBytes(16).toString('hex');
    const file = this.file(extent);
    const hash: Hash | undefined = opts.md5 ? createHash('md5') : undefined;
    let length = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        length += chunk.length;
        if (opts.maxLength !== undefined && length > opts.maxLength) {
          done(new ExtentTooLargeError());
          return;
        }
        hash?.update(chunk);
        done(null, chunk);
      },
    });
    const handle = await fs.promises.open(file, 'wx', PRIVATE_FILE_MODE);
    this.writing.add(extent);
    // The name's fsync runs while the bytes arrive; the answer waits for both.
    const named = this.syncDir(extent);
    named.catch(() => undefined);
    const lease = setInterval(() => {
      const now = new Date();
      handle.utimes(now, now).catch(() => undefined);
    }, this.graceMs / 4);
    lease.unref();
    let written = false;
    try {
      await pipeline(body, meter, fs.createWriteStream(file, { fd: handle.fd, autoClose: false, highWaterMark: 1 << 20 }));
      await handle.datasync(); // the bytes and the size; the times are only the lease
      // A sweep that ignored the lease (a clock far off on another host) must not cost an acknowledged write.
      if ((await handle.stat()).nlink === 0) throw new Error(`extent ${extent} was removed while it was written`);
      await named;
      written = true;
    } finally {
      clearInterval(lease);
      await handle.close().catch(() => undefined);
      if (!written) await fs.promises.rm(file, { force: true });
      this.writing.delete(extent);
    }
    return { extent, length, md5: hash?.digest() };
  }

  /** Reads the given segments back to back as one stream; the extents stay readable until it ends. */
  read(segments: Segment[]): Readable {
    const out = new PassThrough({ highWaterMark: 1 << 18 });
    const extents = segments.flatMap((s) => (s.extent === null ? [] : [s.extent]));
    this.pin(extents);
    (async () => {
      for (const segment of segments) {
        if (segment.length === 0) continue;
        if (segment.extent === null) {
          if (!out.write(segment.data!.subarray(segment.offset, segment.offset + segment.length))) {
            await new Promise<void>((resolve) => out.once('drain', () => resolve()));
          }
          continue;
        }
        const source = fs.createReadStream(this.file(segment.extent), {
          start: segment.offset,
          end: segment.offset + segment.length - 1,
          highWaterMark: 1 << 18,
        });
        await pipeline(source, out, { end: false });
      }
      out.end();
    })()
      .catch((err: Error) => out.destroy(err))
      .finally(() => this.unpin(extents));
    return out;
  }

  /** Removes extents that no metadata refers to any more; one being read is removed when its reads end. */
  async remove(extents: Iterable<string>): Promise<void> {
    const now: string[] = [];
    for (const extent of extents) {
      if (this.readers.has(extent)) this.deleteWhenUnread.add(extent);
      else now.push(extent);
    }
    await Promise.all(now.map((e) => fs.promises.rm(this.file(e), { force: true })));
  }

  /**
   * Deletes extent files that `isReferenced` does not know and that are older than the grace period:
   * leftovers of uploads cut off by a crash. `atStart` (before the server takes uploads) also makes
   * every extent private (0600), as extents of an older Kiln were 0644. The check and the removal are
   * apart, which is safe: an extent past its grace that nothing refers to never becomes referenced again
   * (a commit sharing an extent requires it referenced, see CommitGuard; a new one is young).
   */
  async sweepOrphans(isReferenced: (extent: string) => Promise<boolean>, opts: { atStart?: boolean } = {}): Promise<number> {
    const graceMs = opts.atStart && !this.shared ? 0 : this.graceMs;
    let removed = 0;
    for (const prefix of await fs.promises.readdir(this.root)) {
      for (const name of await fs.promises.readdir(this.dir(prefix))) {
        if (!EXTENT_ID.test(name)) continue;
        const file = path.join(this.dir(prefix), name);
        if (opts.atStart) await fs.promises.chmod(file, PRIVATE_FILE_MODE).catch(ignoreMissing);
        if (this.writing.has(name) || this.readers.has(name) || (await isReferenced(name))) continue;
        const stat = await fs.promises.stat(file).catch(ignoreMissing);
        if (!stat || Date.now() - stat.mtimeMs < graceMs) continue;
        await fs.promises.rm(file, { force: true });
        removed++;
      }
    }
    return removed;
  }

  private pin(extents: string[]): void {
    for (const e of extents) this.readers.set(e, (this.readers.get(e) ?? 0) + 1);
  }

  private unpin(extents: string[]): void {
    const released: string[] = [];
    for (const e of extents) {
      const left = (this.readers.get(e) ?? 1) - 1;
      if (left > 0) {
        this.readers.set(e, left);
        continue;
      }
      this.readers.delete(e);
      if (this.deleteWhenUnread.delete(e)) released.push(e);
    }
    if (released.length > 0) void this.remove(released);
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}
