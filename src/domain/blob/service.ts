import type { ByteStore } from './byteStore.js';
import { Blobs } from './blobs.js';
import { Blocks } from './blocks.js';
import { Containers } from './containers.js';
import { settle, type BlobContext } from './context.js';
import type { BlobMetadataStore } from './store.js';

/** Azure keeps uncommitted blocks for about a week. */
export const UNCOMMITTED_BLOCK_LIFETIME_MS = 7 * 24 * 3600 * 1000;

/** The Blob service's domain: containers, blobs and blocks over a metadata store and a byte store. */
export class BlobService {
  readonly containers: Containers;
  readonly blobs: Blobs;
  readonly blocks: Blocks;
  private readonly ctx: BlobContext;

  constructor(store: BlobMetadataStore, extents: ByteStore, now: () => number = Date.now) {
    this.ctx = { store, extents, now };
    this.containers = new Containers(this.ctx);
    this.blobs = new Blobs(this.ctx);
    this.blocks = new Blocks(this.ctx, this.blobs);
  }

  /**
   * Reclaims the space of blocks never committed and of uploads a crash cut off (extents nothing refers
   * to, older than the byte store's grace period: uploads in flight keep theirs young). `atStart`, before
   * the server takes requests, see ByteStore.sweepOrphans.
   */
  async collectGarbage(opts: { blockLifetimeMs?: number; atStart?: boolean } = {}): Promise<{ expiredBlocks: number; orphans: number }> {
    const { freed } = await this.ctx.store.expireUncommittedBlocks(this.ctx.now() - (opts.blockLifetimeMs ?? UNCOMMITTED_BLOCK_LIFETIME_MS));
    await settle(this.ctx, freed);
    const orphans = await this.ctx.extents.sweepOrphans((e) => this.ctx.store.isExtentReferenced(e), { atStart: opts.atStart });
    return { expiredBlocks: freed.length, orphans };
  }
}
