import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ExtentTooLargeError, type Segment } from './byteStore.js';
import { checkReadConditions, checkSourceConditions, checkWriteConditions, type Conditions } from './conditions.js';
import { settle, type BlobContext } from './context.js';
import { errors } from './errors.js';
import { newEtag } from './etag.js';
import type { Blob, ContentProperties, Metadata } from './models.js';
import { validateBlobName, validateMetadata } from './names.js';
import { resolveRange, type ByteRange } from './range.js';

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

/** Blob operations of the Blob service (block staging lives in blocks.ts). */
export class Blobs {
  constructor(private readonly ctx: BlobContext) {}

  /** The container must exist; every blob operation checks it first, as Azure does. */
  requireContainer(account: string, container: string): void {
    if (!this.ctx.store.getContainer(account, container)) throw errors.containerNotFound();
  }

  get(account: string, container: string, name: string): Blob {
    this.requireContainer(account, container);
    const blob = this.ctx.store.getBlob(account, container, name);
    if (!blob) throw errors.blobNotFound();
    return blob;
  }

  getProperties(account: string, container: string, name: string, conditions: Conditions): Blob {
    const blob = this.get(account, container, name);
    checkReadConditions(blob, conditions);
    return blob;
  }

  read(account: string, container: string, name: string, rangeHeader: string | undefined, conditions: Conditions): BlobRead {
    const blob = this.getProperties(account, container, name, conditions);
    return this.open(blob, rangeHeader);
  }

  /** The content of a blob already looked up (a copy source), whole or the range a header names. */
  open(blob: Blob, rangeHeader: string | undefined): BlobRead {
    const range = resolveRange(rangeHeader, blob.size);
    const segments = this.ctx.store.getSegments(blob.id);
    return { blob, range, body: this.ctx.extents.read(range ? sliceSegments(segments, range) : segments) };
  }

  /**
   * Put Blob: the body streams into a new extent first; only a complete body, with a matching MD5 if one
   * was sent, replaces the blob, in one transaction. Conditions are checked before and again at commit.
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
    this.requireContainer(account, container);
    const before = this.ctx.store.getBlob(account, container, name);
    checkCreateOnly(before, write);
    checkWriteConditions(before, write.conditions);
    const received = await this.receive(body, write.expectedLength, write.maxLength);
    try {
      if (write.transferMd5 !== undefined && write.transferMd5 !== received.md5) throw errors.md5Mismatch(write.transferMd5, received.md5);
      this.requireContainer(account, container);
      const current = this.ctx.store.getBlob(account, container, name);
      checkCreateOnly(current, write);
      checkWriteConditions(current, write.conditions);
    } catch (err) {
      if (received.segment.extent !== null) await this.ctx.extents.remove([received.segment.extent]);
      throw err;
    }
    return this.commit(account, container, name, {
      properties: { ...write.properties, contentMd5: write.properties.contentMd5 ?? received.md5 },
      metadata: write.metadata,
      segments: [{ ...received.segment, blockId: null }],
    });
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

  async commit(
    account: string,
    container: string,
    name: string,
    content: { properties: ContentProperties; metadata: Metadata; segments: (Segment & { blockId: string | null })[]; copy?: Blob['copy'] },
  ): Promise<Blob> {
    const now = this.ctx.now();
    const { blob, freed } = this.ctx.store.commitBlob({
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
    });
    await settle(this.ctx, freed);
    return blob;
  }

  setProperties(account: string, container: string, name: string, properties: ContentProperties, conditions: Conditions): Blob {
    const blob = this.get(account, container, name);
    checkWriteConditions(blob, conditions);
    const now = this.ctx.now();
    this.ctx.store.updateBlob(blob.id, { ...properties, contentMd5: properties.contentMd5, etag: newEtag(now), lastModified: now });
    this.ctx.store.durableSync();
    return this.get(account, container, name);
  }

  setMetadata(account: string, container: string, name: string, metadata: Metadata, conditions: Conditions): Blob {
    validateMetadata(metadata);
    const blob = this.get(account, container, name);
    checkWriteConditions(blob, conditions);
    const now = this.ctx.now();
    this.ctx.store.updateBlob(blob.id, { metadata, etag: newEtag(now), lastModified: now });
    this.ctx.store.durableSync();
    return this.get(account, container, name);
  }

  async delete(account: string, container: string, name: string, conditions: Conditions): Promise<void> {
    const blob = this.get(account, container, name);
    checkWriteConditions(blob, conditions);
    const { freed } = this.ctx.store.deleteBlob(account, container, name);
    await settle(this.ctx, freed);
  }

  list(account: string, container: string, opts: { prefix: string; delimiter: string; marker: string; limit: number }) {
    this.requireContainer(account, container);
    return this.ctx.store.listBlobs(account, container, opts);
  }

  /**
   * Copy Blob within this service: the copy shares the source's extents (they are immutable), so it is
   * complete, and answered `success`, at once, whatever the size.
   */
  async copy(
    source: Blob,
    account: string,
    container: string,
    name: string,
    write: { metadata: Metadata | undefined; conditions: Conditions; sourceConditions: Conditions; sourceMd5?: string; sourceUrl: string; createOnly?: boolean },
  ): Promise<Blob> {
    return this.writeFrom(source, account, container, name, {
      properties: contentPropertiesOf(source),
      metadata: write.metadata ?? source.metadata,
      conditions: write.conditions,
      sourceConditions: write.sourceConditions,
      sourceMd5: write.sourceMd5,
      createOnly: write.createOnly,
      copy: { id: randomUUID(), source: write.sourceUrl, status: 'success', progress: `${source.size}/${source.size}`, completionTime: this.ctx.now() },
    });
  }

  /**
   * Writes a blob whose content is another blob's (Copy Blob, Put Blob From URL), sharing its extents.
   * `sourceMd5` (x-ms-source-content-md5) is checked against the bytes themselves, not the stored property.
   */
  async writeFrom(
    source: Blob,
    account: string,
    container: string,
    name: string,
    write: BlobWrite & { sourceConditions: Conditions; sourceMd5?: string; copy?: Blob['copy'] },
  ): Promise<Blob> {
    validateBlobName(name);
    validateMetadata(write.metadata);
    this.requireContainer(account, container);
    checkSourceConditions(source, write.sourceConditions);
    const before = this.ctx.store.getBlob(account, container, name);
    checkCreateOnly(before, write);
    checkWriteConditions(before, write.conditions);
    // Copy Blob keeps the source's block list; Put Blob From URL makes a blob as Put Blob does, without one.
    const segments = this.ctx.store.getSegments(source.id).map((s) => (write.copy ? s : { ...s, blockId: null }));
    if (write.sourceMd5 !== undefined) {
      const md5 = await md5Of(this.ctx.extents.read(segments));
      if (md5 !== write.sourceMd5) throw errors.md5Mismatch(write.sourceMd5, md5);
      // The hash took a while: the destination is checked again, as Put Blob does before its commit.
      this.requireContainer(account, container);
      const current = this.ctx.store.getBlob(account, container, name);
      checkCreateOnly(current, write);
      checkWriteConditions(current, write.conditions);
    }
    return this.commit(account, container, name, { properties: write.properties, metadata: write.metadata, segments, copy: write.copy });
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
