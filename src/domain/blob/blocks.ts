import type { Readable } from 'node:stream';
import { ExtentTooLargeError } from './byteStore.js';
import { checkCreateOnly, type Blobs, type BlobWrite } from './blobs.js';
import { checkSourceConditions, checkWriteConditions, expectation, type Conditions } from './conditions.js';
import { settle, type BlobContext } from './context.js';
import { StorageError, errors } from './errors.js';
import type { Blob, BlockInfo, BlockListType, BlockReference } from './models.js';
import { validateBlobName, validateMetadata } from './names.js';
import { optimistic } from './optimistic.js';
import { WriteConflict, type BlobContent, type StoredSegment } from './store.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_BLOCK_ID_BYTES = 64;
const MAX_COMMITTED_BLOCKS = 50_000;
const MAX_UNCOMMITTED_BLOCKS = 100_000;

function validateBlockId(id: string): void {
  if (id.length === 0 || id.length % 4 !== 0 || !BASE64.test(id) || Buffer.from(id, 'base64').length > MAX_BLOCK_ID_BYTES) {
    throw errors.invalidQuery('blockid', id);
  }
}

export interface BlockList {
  blob: Blob | undefined;
  committed: BlockInfo[];
  uncommitted: BlockInfo[];
}

/** Block staging and committing: Put Block, Put Block List, Get Block List. */
export class Blocks {
  constructor(
    private readonly ctx: BlobContext,
    private readonly blobs: Blobs,
  ) {}

  async stage(
    account: string,
    container: string,
    blob: string,
    blockId: string,
    body: Readable,
    opts: { transferMd5?: string; maxLength: number; computeMd5?: boolean },
  ): Promise<{ md5: string | undefined }> {
    validateBlobName(blob);
    validateBlockId(blockId);
    await this.blobs.requireContainer(account, container);
    const staged = await this.ctx.store.getUncommittedBlocks(account, container, blob);
    if (staged.some((b) => b.blockId.length !== blockId.length)) {
      throw new StorageError(400, 'InvalidBlobOrBlock', 'The specified blob or block content is invalid.');
    }
    if (staged.length >= MAX_UNCOMMITTED_BLOCKS) throw errors.invalidBlockList();
    let written;
    try {
      written = await this.ctx.extents.write(body, { md5: opts.transferMd5 !== undefined || opts.computeMd5 === true, maxLength: opts.maxLength });
    } catch (err) {
      if (err instanceof ExtentTooLargeError) throw errors.requestBodyTooLarge(opts.maxLength);
      throw err;
    }
    const md5 = written.md5?.toString('base64');
    if (opts.transferMd5 !== undefined && md5 !== opts.transferMd5) {
      await this.ctx.extents.remove([written.extent]);
      throw errors.md5Mismatch(opts.transferMd5, md5 ?? '');
    }
    let freed: string[];
    try {
      ({ freed } = await this.ctx.store.putUncommittedBlock(account, container, blob, { blockId, extent: written.extent, length: written.length }, this.ctx.now()));
    } catch (err) {
      if (!(err instanceof WriteConflict)) throw err;
      // The one conflict of staging: the container was deleted while the body arrived.
      await this.ctx.extents.remove([written.extent]);
      throw errors.containerNotFound();
    }
    await settle(this.ctx, freed);
    return { md5 };
  }

  /**
   * Put Block From URL: the block is another blob's bytes, or the range `rangeHeader` names, copied into an
   * extent of its own (a staged block is one whole extent, while a blob's content may be several, or inline).
   */
  async stageFrom(
    source: BlobContent,
    account: string,
    container: string,
    blob: string,
    blockId: string,
    opts: { rangeHeader?: string; sourceConditions: Conditions; sourceMd5?: string; maxLength: number },
  ): Promise<{ md5: string | undefined }> {
    checkSourceConditions(source.blob, opts.sourceConditions);
    const { body } = this.blobs.open(source, opts.rangeHeader);
    try {
      return await this.stage(account, container, blob, blockId, body, { transferMd5: opts.sourceMd5, maxLength: opts.maxLength, computeMd5: true });
    } finally {
      // A refusal before the body was read leaves the source's stream open.
      body.destroy();
    }
  }

  /**
   * Put Block List: the new content is the named blocks in order; no byte is copied. The commit requires
   * the blob's staged blocks to be still those read (it takes some and discards the others), and the blob
   * to be as read when its conditions were checked or its committed blocks are kept; otherwise the list
   * is resolved again.
   */
  async commit(account: string, container: string, name: string, refs: BlockReference[], write: BlobWrite): Promise<Blob> {
    validateBlobName(name);
    validateMetadata(write.metadata);
    const { blob, freed } = await optimistic(async () => {
      await this.blobs.requireContainer(account, container);
      if (refs.length > MAX_COMMITTED_BLOCKS) throw errors.invalidBlockList();
      const current = await this.ctx.store.getBlobContent(account, container, name);
      checkCreateOnly(current?.blob, write);
      checkWriteConditions(current?.blob, write.conditions);
      const committed = new Map<string, StoredSegment>();
      if (current) for (const s of current.segments) if (s.blockId !== null) committed.set(s.blockId, s);
      const staged = await this.ctx.store.getUncommittedBlocks(account, container, name);
      const uncommitted = new Map(staged.map((b) => [b.blockId, b]));
      let keepsCommitted = false;
      const segments = refs.map((ref): StoredSegment => {
        const block = ref.from === 'Committed' ? undefined : uncommitted.get(ref.id);
        if (block) return { extent: block.extent, offset: 0, length: block.length, blockId: ref.id };
        const kept = ref.from === 'Uncommitted' ? undefined : committed.get(ref.id);
        if (kept) {
          keepsCommitted = true;
          return { ...kept, blockId: ref.id };
        }
        throw errors.invalidBlockList();
      });
      const expect = keepsCommitted && current ? { etag: current.blob.etag } : expectation(current?.blob, write.conditions, write.createOnly);
      return this.blobs.commit(account, container, name, { properties: write.properties, metadata: write.metadata, segments }, { expect, staged });
    });
    await settle(this.ctx, freed);
    return blob;
  }

  async list(account: string, container: string, name: string, type: BlockListType): Promise<BlockList> {
    await this.blobs.requireContainer(account, container);
    const content = await this.ctx.store.getBlobContent(account, container, name);
    const committed = content && type !== 'uncommitted' ? content.segments.filter((s) => s.blockId !== null).map((s) => ({ id: s.blockId!, size: s.length })) : [];
    const uncommitted = type !== 'committed' ? (await this.ctx.store.getUncommittedBlocks(account, container, name)).map((b) => ({ id: b.blockId, size: b.length })) : [];
    if (!content && uncommitted.length === 0) throw errors.blobNotFound();
    return { blob: content?.blob, committed, uncommitted };
  }
}
