import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Transform, type Readable } from 'node:stream';

/**
 * The unit a blob's content is made of: a range of one extent file, or of `data` for small blobs kept
 * inline in the metadata store (no file to create, open and close for a few KiB).
 */
export interface Segment {
  extent: string | null;
  data?: Buffer | null;
  offset: number;
  length: number;
}

export interface WrittenExtent {
  extent: string;
  length: number;
  md5: Buffer | undefined;
}

const EXTENT_ID = /^[0-9a-f]{32}$/;

/**
 * The byte store: immutable files ("extents") under DATA/extents, never edited in place. A blob or block
 * points at ranges of them. A write is visible to nobody until the metadata store records it, so a
 * crash mid-upload leaves only an orphan file, which `sweepOrphans` removes.
 */
export class ExtentStore {
  private readonly root: string;
  private readonly readers = new Map<string, number>();
  private readonly deleteWhenUnread = new Set<string>();

  constructor(dataDir: string) {
    this.root = path.join(dataDir, 'extents');
    fs.mkdirSync(this.root, { recursive: true });
    for (let i = 0; i < 256; i++) fs.mkdirSync(this.dir(i.toString(16).padStart(2, '0')), { recursive: true });
  }

  private dir(prefix: string): string {
    return path.join(this.root, prefix);
  }

  private file(extent: string): string {
    if (!EXTENT_ID.test(extent)) throw new Error(`bad extent id ${extent}`);
    return path.join(this.dir(extent.slice(0, 2)), extent);
  }

  /**
   * Streams `body` into a new extent. Resolves once all bytes are written and the file is closed: from
   * then on the bytes survive a kill -9 of this process. On error the partial file is removed.
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
    try {
      await pipeline(body, meter, fs.createWriteStream(file, { highWaterMark: 1 << 20 }));
    } catch (err) {
      await fs.promises.rm(file, { force: true });
      throw err;
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

  /** Deletes extent files that `isReferenced` does not know: leftovers of uploads cut off by a crash. */
  async sweepOrphans(isReferenced: (extent: string) => boolean): Promise<number> {
    let removed = 0;
    for (const prefix of await fs.promises.readdir(this.root)) {
      for (const name of await fs.promises.readdir(this.dir(prefix))) {
        if (!EXTENT_ID.test(name) || isReferenced(name) || this.readers.has(name)) continue;
        await fs.promises.rm(path.join(this.dir(prefix), name), { force: true });
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

export class ExtentTooLargeError extends Error {
  constructor() {
    super('the body is larger than allowed');
  }
}
