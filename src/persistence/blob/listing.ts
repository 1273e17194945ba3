import type { Blob } from '../../domain/blob/models.js';
import type { BlobListItem, ListPage } from '../../domain/blob/store.js';

/** Greater than every string that starts with `prefix` (no blob name holds U+10FFFF in practice). */
export const pastPrefix = (prefix: string): string => `${prefix}\u{10FFFF}`;

export interface BlobListing {
  prefix: string;
  delimiter: string;
  marker: string;
  limit: number;
}

/**
 * Reads up to `batch` rows of one container's name index, in byte order of names: those at or past
 * `from` that start with the listing's prefix (name >= prefix AND name >= from AND name < pastPrefix(prefix)).
 */
export type ReadNames<R> = (from: string, batch: number) => Promise<R[]>;

/**
 * One page of List Blobs, walking the name index from the marker. With a delimiter, every run of names
 * under one "directory" becomes one prefix entry and the walk jumps past the whole run, so a page costs
 * O(page), not O(container). The marker is the first name (or prefix) the next page starts with.
 * A read returns one row more than the page still lacks, so only a jump needs another read: a read that
 * ends without one has either filled the page (and seen the next page's first name) or reached the end.
 */
export async function listBlobPage<R extends { name: string }>(opts: BlobListing, read: ReadNames<R>, toBlob: (row: R) => Blob): Promise<ListPage<BlobListItem>> {
  const { prefix, delimiter, limit } = opts;
  const items: BlobListItem[] = [];
  let from = opts.marker;
  for (;;) {
    const rows = await read(from, Math.max(limit - items.length + 1, 16));
    let jumpedPast: string | undefined;
    for (const row of rows) {
      const at = delimiter ? row.name.indexOf(delimiter, prefix.length) : -1;
      const key = at >= 0 ? row.name.slice(0, at + delimiter.length) : row.name;
      if (items.length === limit) return { items, nextMarker: key };
      if (at < 0) {
        items.push({ kind: 'blob', blob: toBlob(row) });
        continue;
      }
      items.push({ kind: 'prefix', name: key });
      jumpedPast = key;
      break;
    }
    if (jumpedPast === undefined) return { items, nextMarker: undefined };
    from = pastPrefix(jumpedPast);
  }
}
