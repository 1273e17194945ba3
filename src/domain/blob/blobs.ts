import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ExtentTooLargeError, type Segment } from './byteStore.js';
import { checkReadConditions, checkSourceConditions, checkWriteConditions, expectation, type Conditions } from './conditions.js';
import { settle, type BlobContext } from './context.js';
import { errors } from './errors.js';
import { newEtag } from './etag.js';
import type { Blob, ContentProperties, Metadata } from './models.js';
import { validateBlobName, validateMetadata } from './names.js';
import { optimistic } from './optimistic.js';
import { resolveRange, type ByteRange } from './range.js';
import type { BlobContent, CommitGuard, Expect, StoredSegment } from './store.js';

/** Bodies up to this size are kept in the metadata store rather than in an extent file of their own. */
export const INLINE_MAX_BYTES = 64 * 1024;

export interface BlobWrite {
  properties: ContentProperties;
  metadata: Metadata;
  conditions: Conditions;
  /** The caller may create the blob but not replace it (a SAS with `c` and no `w`). */
  createOnly?: boolean;
}

/** A create-only write may not replace an existing blob. */
export function checkCreateOnly(existing: Blob | undefined, write: { createOnly?: boolean }): void {
  if (write.createOnly && existing) throw errors.permissionMismatch();
}

export interface BlobRead {
  blob: Blob;
  range: ByteRange | undefined;
  body: Readable;
}

/** Takes the part of a blob's segments that covers `range`. */
export function sliceSegments(segments: Segment[], range: ByteRange): Segment[] {
  const out: Segment[] = [];
  let position = 0;
  for (const s of segments) {
    const from = Math.max(range.start, position);
    const to = Math.min(range.end + 1, position + s.length);
    if (from < to) out.push({ ...s, offset: s.offset + (from - position), length: to - from });
    position += s.length;
  }
  return out;
}

/** What a commit makes a blob of. */
export interface BlobCommit {
  properties: ContentProperties;
  metadata: Metadata;
  segments: StoredSegment[];
  copy?: Blob['copy'];
}

/** Blob operations of the Blob service (block staging lives in blocks.ts). */
export class Blobs {
  constructor(private readonly ctx: BlobContext) {}

  /** The container must exist; every blob operation checks it first, as Azure does. */
  async requireContainer(account: string, container: string): Promise<void> {
    if (!(await this.ctx.store.getContainer(account, container))) throw errors.containerNotFound();
  }

  async get(account: string, container: string, name: string): Promise<Blob> {
    await this.requireContainer(account, container);
    const blob = await this.ctx.store.getBlob(account, container, name);
    if (!blob) throw errors.blobNotFound();
    return blob;
  }

  /** A blob with its content (segments), read together, e.g. a copy's source. */
  async getContent(account: string, container: string, name: string): Promise<BlobContent> {
    await this.requireContainer(account, container);
    const content = await this.ctx.store.getBlobContent(account, container, name);
    if (!content) throw errors.blobNotFound();
    return content;
  }

  async getProperties(account: string, container: string, name: string, conditions: Conditions): Promise<Blob> {
    const blob = await this.get(account, container, name);
    checkReadConditions(blob, conditions);
    return blob;
  }

  async read(account: string, container: string, name: string, rangeHeader: string | undefined, conditions: Conditions): Promise<BlobRead> {
    const content = await this.getContent(account, container, name);
    checkReadConditions(content.blob, conditions);
    return this.open(content, rangeHeader);
  }

  /**
   * The content of a blob already looked up (a copy source), whole or the range a header names. Called
   * at once after the lookup: the byte store keeps extents being read (see ExtentStore.read), and a
   * change that frees them removes them only after its commit is durable.
   */
  open({ blob, segments }: BlobContent, rangeHeader: string | undefined): BlobRead {
    const range = resolveRange(rangeHeader, blob.size);
    return { blob, range, body: this.ctx.extents.read(range ? sliceSegments(segments, range) : segments) };
  }

  /**
   * Checks a write's createOnly and conditions against the blob it would replace, as it is now; what the
   * store must still find at commit for the check to hold.
   */
  async checkDestination(account: string, container: string, name: string, write: Pick<BlobWrite, 'conditions' | 'createOnly'>): Promise<Expect> {
    await this.requireContainer(account, container);
    const current = await this.ctx.store.getBlob(account, container, name);
    checkCreateOnly(current, write);
    checkWriteConditions(current, write.conditions);
    return expectation(current, write.conditions, write.createOnly);
  }

  /**
   * Put Blob: the body streams into a new extent first; only a complete body, with a matching MD5 if one
   * was sent, replaces the blob, in one transaction. Conditions are checked before the body and again
   * at commit, where the store checks that the blob is still as that last check saw it.
   */
  async put(
    account: string,
    container: string,
    name: string,
    body: Readable,
    write: BlobWrite & { transferMd5?: string; maxLength: number; expectedLength: number },
  ): Promise<Blob> {
    validateBlobName(name);
    validateMetadata(write.metadata);
    await this.checkDestination(account, container, name, write);
    const received = await this.receive(body, write.expectedLength, write.maxLength);
    let committed: { blob: Blob; freed: string[] };
    try {
      if (write.transferMd5 !== undefined && write.transferMd5 !== received.md5) throw errors.md5Mismatch(write.transferMd5, received.md5);
      const content: BlobCommit = {
        properties: { ...write.properties, contentMd5: write.properties.contentMd5 ?? received.md5 },
        metadata: write.metadata,
        segments: [{ ...received.segment, blockId: null }],
      };
      committed = await optimistic(async () => this.commit(account, container, name, content, { expect: await this.checkDestination(account, container, name, write) }));
    } catch (err) {
      if (received.segment.extent !== null) await this.ctx.extents.remove([received.segment.extent]);
      throw err;
    }
    await settle(this.ctx, committed.freed);
    return committed.blob;
  }

  /** Takes in a Put Blob body: small ones stay inline in the metadata store, the rest stream to an extent. */
  private async receive(body: Readable, expectedLength: number, maxLength: number): Promise<{ segment: Segment; md5: string }> {
    if (expectedLength <= INLINE_MAX_BYTES) {
      const chunks: Buffer[] = [];
      for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
      const data = Buffer.concat(chunks);
      return { segment: { extent: null, data, offset: 0, length: data.length }, md5: createHash('md5').update(data).digest('base64') };
    }
    try {
      const written = await this.ctx.extents.write(body, { md5: true, maxLength });
      return { segment: { extent: written.extent, offset: 0, length: written.length }, md5: written.md5!.toString('base64') };
    } catch (err) {
      if (err instanceof ExtentTooLargeError) throw errors.requestBodyTooLarge(maxLength);
      throw err;
    }
  }

  /**
   * Creates or replaces the blob with `content`, if `guard` still holds (else WriteConflict). The caller
   * settles the extents it freed once it is done deciding (see optimistic.ts).
   */
  commit(account: string, container: string, name: string, content: BlobCommit, guard: CommitGuard): Promise<{ blob: Blob; freed: string[] }> {
    const now = this.ctx.now();
    return this.ctx.store.commitBlob(
      {
        account,
        container,
        name,
        etag: newEtag(now),
        now,
        metadata: content.metadata,
        ...content.properties,
        contentType: content.properties.contentType ?? 'application/octet-stream',
        segments: content.segments,
        copy: content.copy,
      },
      guard,
    );
  }

  setProperties(account: string, container: string, name: string, properties: ContentProperties, conditions: Conditions): Promise<Blob> {
    // contentMd5 always given: Set Blob Properties replaces every content property (see BlobChanges).
    return this.update(account, container, name, conditions, { ...properties, contentMd5: properties.contentMd5 });
  }

  async setMetadata(account: string, container: string, name: string, metadata: Metadata, conditions: Conditions): Promise<Blob> {
    validateMetadata(metadata);
    return this.update(account, container, name, conditions, { metadata });
  }

  private async update(account: string, container: string, name: string, conditions: Conditions, changes: ContentProperties & { metadata?: Metadata }): Promise<Blob> {
    const updated = await optimistic(async () => {
      const blob = await this.get(account, container, name);
      checkWriteConditions(blob, conditions);
      const now = this.ctx.now();
      return this.ctx.store.updateBlob(account, container, name, { ...changes, etag: newEtag(now), lastModified: now }, expectation(blob, conditions));
    });
    await this.ctx.store.durable();
    return updated;
  }

  async delete(account: string, container: string, name: string, conditions: Conditions): Promise<void> {
    const freed = await optimistic(async () => {
      const blob = await this.get(account, container, name);
      checkWriteConditions(blob, conditions);
      const { deleted, freed } = await this.ctx.store.deleteBlob(account, container, name, expectation(blob, conditions));
      if (deleted) return freed;
      // Deleted meanwhile by another request: as if that one had come first (its staged blocks went now).
      await settle(this.ctx, freed);
      throw errors.blobNotFound();
    });
    await settle(this.ctx, freed);
  }

  async list(account: string, container: string, opts: { prefix: string; delimiter: string; marker: string; limit: number }) {
    await this.requireContainer(account, container);
    return this.ctx.store.listBlobs(account, container, opts);
  }

  /**
   * Copy Blob within this service: the copy shares the source's extents (they are immutable), so it is
   * complete, and answered `success`, at once, whatever the size.
   */
  async copy(
    source: BlobContent,
    account: string,
    container: string,
    name: string,
    write: { metadata: Metadata | undefined; conditions: Conditions; sourceConditions: Conditions; sourceMd5?: string; sourceUrl: string; createOnly?: boolean },
  ): Promise<Blob> {
    const { blob } = source;
    return this.writeFrom(source, account, container, name, {
      properties: contentPropertiesOf(blob),
      metadata: write.metadata ?? blob.metadata,
      conditions: write.conditions,
      sourceConditions: write.sourceConditions,
      sourceMd5: write.sourceMd5,
      createOnly: write.createOnly,
      copy: { id: randomUUID(), source: write.sourceUrl, status: 'success', progress: `${blob.size}/${blob.size}`, completionTime: this.ctx.now() },
    });
  }

  /**
   * Writes a blob whose content is another blob's (Copy Blob, Put Blob From URL), sharing its extents.
   * `sourceMd5` (x-ms-source-content-md5) is checked against the bytes themselves, not the stored property.
   * The commit requires the source's extents to be still in use: when the source was deleted or replaced
   * meanwhile, the copy is decided again on the source as it is then.
   */
  async writeFrom(
    source: BlobContent,
    account: string,
    container: string,
    name: string,
    write: BlobWrite & { sourceConditions: Conditions; sourceMd5?: string; copy?: Blob['copy'] },
  ): Promise<Blob> {
    validateBlobName(name);
    validateMetadata(write.metadata);
    let from: BlobContent | undefined;
    const committed = await optimistic(async () => {
      from = from === undefined ? source : await this.sourceAgain(from.blob);
      await this.requireContainer(account, container);
      checkSourceConditions(from.blob, write.sourceConditions);
      let expect = await this.checkDestination(account, container, name, write);
      // Copy Blob keeps the source's block list; Put Blob From URL makes a blob as Put Blob does, without one.
      const segments = from.segments.map((s) => (write.copy ? s : { ...s, blockId: null }));
      if (write.sourceMd5 !== undefined) {
        const md5 = await md5Of(this.ctx.extents.read(segments));
        if (md5 !== write.sourceMd5) throw errors.md5Mismatch(write.sourceMd5, md5);
        // The hash took a while: the destination is checked again, as Put Blob does before its commit.
        expect = await this.checkDestination(account, container, name, write);
      }
      const shared = segments.flatMap((s) => (s.extent === null ? [] : [s.extent]));
      return this.commit(account, container, name, { properties: write.properties, metadata: write.metadata, segments, copy: write.copy }, { expect, shared });
    });
    await settle(this.ctx, committed.freed);
    return committed.blob;
  }

  /** A copy's source read again after a conflict; gone, it is the 404 a copy from a missing source answers. */
  private async sourceAgain(source: Blob): Promise<BlobContent> {
    const again = await this.ctx.store.getBlobContent(source.account, source.container, source.name);
    if (!again) throw errors.cannotVerifyCopySource(404, 'The specified blob does not exist.');
    return again;
  }
}

/** The content properties a blob carries over to a copy of it. */
export function contentPropertiesOf(b: Blob): ContentProperties {
  return {
    contentType: b.contentType,
    contentEncoding: b.contentEncoding,
    contentLanguage: b.contentLanguage,
    contentDisposition: b.contentDisposition,
    cacheControl: b.cacheControl,
    contentMd5: b.contentMd5,
  };
}

/** The base64 MD5 of a stream's bytes. */
export async function md5Of(body: Readable): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of body as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('base64');
}
