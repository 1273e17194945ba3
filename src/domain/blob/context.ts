import type { ByteStore } from './byteStore.js';
import type { BlobMetadataStore } from './store.js';

/** What every part of the Blob domain works with: the metadata store, the byte store and a clock. */
export interface BlobContext {
  store: BlobMetadataStore;
  extents: ByteStore;
  now: () => number;
}

/**
 * Ends a change: waits until it is on the disk, then removes the extents it freed. In the other order a
 * power loss could bring back metadata whose bytes are gone.
 */
export async function settle(ctx: BlobContext, freed: string[]): Promise<void> {
  await ctx.store.durable();
  await ctx.extents.remove(freed);
}
