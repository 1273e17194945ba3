import type { Readable } from 'node:stream';

/**
 * The unit a blob's content is made of: a range of one extent (a file of the byte store), or of
 * `data` for small blobs kept inline in the metadata store.
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

/** A body was longer than the write allowed (`maxLength`). */
export class ExtentTooLargeError extends Error {
  constructor() {
    super('the body is larger than allowed');
  }
}

/**
 * Where blobs' bytes live (the port the Blob domain owns; persistence/blob/extentStore.ts is the
 * file implementation). Extents are immutable once written; a write is durable when it resolves.
 */
export interface ByteStore {
  write(body: Readable, opts: { md5: boolean; maxLength?: number }): Promise<WrittenExtent>;
  read(segments: Segment[]): Readable;
  remove(extents: Iterable<string>): Promise<void>;
  /** Removes extents nobody refers to (and, but at start, only those past their grace); how many. */
  sweepOrphans(isReferenced: (extent: string) => Promise<boolean>, opts?: { atStart?: boolean }): Promise<number>;
}
