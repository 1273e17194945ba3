import type { Readable } from 'node:stream';
import { ExtentTooLargeError } from './byteStore.js';
import { checkCreateOnly, type Blobs, type BlobWrite } from './blobs.js';
import { checkSourceConditions, checkWriteConditions, type Conditions } from './conditions.js';
import { settle, type BlobContext } from './context.js';
import { StorageError, errors } from './errors.js';
import type { Blob, BlockInfo, BlockListType, BlockReference } from './models.js';
import { validateBlobName, validateMetadata } from './names.js';
import type { StoredSegment } from './store.js';

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
    this.blobs.requireContainer(account, container);
    const staged = this.ctx.store.getUncommittedBlocks(account, container, blob);
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
    if (!this.ctx.store.getContainer(account, container)) {
      await this.ctx.extents.remove([written.extent]);
      throw errors.containerNotFound();
    }
    const { freed } = this.ctx.store.putUncommittedBlock(account, container, blob, { blockId, extent: written.extent, length: written.length }, this.ctx.now());
    await settle(this.ctx, freed);
    return { md5 };
  }

  /**
   * Put Block From URL: the block is another blob's bytes, or the range `rangeHeader` names, copied into an
   * extent of its own (a staged block is one whole extent, while a blob's content may be several, or inline).
   */
  async stageFrom(
    source: Blob,
    account: string,
    container: string,
    blob: string,
    blockId: string,
    opts: { rangeHeader?: string; sourceConditions: Conditions; sourceMd5?: string; maxLength: number },
  ): Promise<{ md5: string | undefined }> {
    checkSourceConditions(source, opts.sourceConditions);
    const { body } = this.blobs.open(source, opts.rangeHeader);
    try {
      return await this.stage(account, container, blob, blockId, body, { transferMd5: opts.sourceMd5, maxLength: opts.maxLength, computeMd5: true });
    } finally {
      // A refusal before the body was read leaves the source's stream open.
      body.destroy();
    }
  }

  /** Put Block List: the new content is the named blocks in order; no byte is copied. */
  async commit(account: string, container: string, name: string, refs: BlockReference[], write: BlobWrite): Promise<Blob> {
    validateBlobName(name);
    validateMetadata(write.metadata);
    this.blobs.requireContainer(account, container);
    if (refs.length > MAX_COMMITTED_BLOCKS) throw errors.invalidBlockList();
    const current = this.ctx.store.getBlob(account, container, name);
    checkCreateOnly(current, write);
    checkWriteConditions(current, write.conditions);
    const committed = new Map<string, StoredSegment>();
    if (current) for (const s of this.ctx.store.getSegments(current.id)) if (s.blockId !== null) committed.set(s.blockId, s);
    const uncommitted = new Map(this.ctx.store.getUncommittedBlocks(account, container, name).map((b) => [b.blockId, b]));
    const segments = refs.map((ref): StoredSegment => {
      const staged = ref.from === 'Committed' ? undefined : uncommitted.get(ref.id);
      if (staged) return { extent: staged.extent, offset: 0, length: staged.length, blockId: ref.id };
      const kept = ref.from === 'Uncommitted' ? undefined : committed.get(ref.id);
      if (kept) return { ...kept, blockId: ref.id };
      throw errors.invalidBlockList();
    });
    return this.blobs.commit(account, container, name, {
      properties: write.properties,
      metadata: write.metadata,
      segments,
    });
  }

  list(account: string, container: string, name: string, type: BlockListType): BlockList {
    this.blobs.requireContainer(account, container);
    const blob = this.ctx.store.getBlob(account, container, name);
    const committed =
      blob && type !== 'uncommitted'
        ? this.ctx.store
            .getSegments(blob.id)
            .filter((s) => s.blockId !== null)
            .map((s) => ({ id: s.blockId!, size: s.length }))
        : [];
    const uncommitted = type !== 'committed' ? this.ctx.store.getUncommittedBlocks(account, container, name).map((b) => ({ id: b.blockId, size: b.length })) : [];
    if (!blob && uncommitted.length === 0) throw errors.blobNotFound();
    return { blob, committed, uncommitted };
  }
}
