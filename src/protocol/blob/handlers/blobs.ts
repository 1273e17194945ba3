import { contentPropertiesOf, md5Of } from '../../../domain/blob/blobs.js';
import { StorageError, errors } from '../../../domain/blob/errors.js';
import type { BlobService } from '../../../domain/blob/service.js';
import type { Blob, ContentProperties } from '../../../domain/blob/models.js';
import { checkUploadLength, maxPutBlobBytes, requireEmptyBody } from '../body.js';
import { mayOnlyCreate, type Operation } from '../operation.js';
import { readBooleanHeader, readConditions, readContentProperties, readMetadata, readSourceConditions, type BlobRequest } from '../request.js';
import { httpDate, metadataHeaders, type Headers } from '../respond.js';

const blobName = (req: BlobRequest): string => req.blob!;
const versionHeaders = (b: Blob) => ({ ETag: b.etag, 'Last-Modified': httpDate(b.lastModified) });

/** The headers Get Blob and Get Blob Properties share. */
function propertyHeaders(b: Blob): Headers {
  return {
    ...versionHeaders(b),
    ...metadataHeaders(b.metadata),
    'Content-Type': b.contentType,
    'Content-Encoding': b.contentEncoding,
    'Content-Language': b.contentLanguage,
    'Content-Disposition': b.contentDisposition,
    'Cache-Control': b.cacheControl,
    'x-ms-creation-time': httpDate(b.created),
    'x-ms-blob-type': 'BlockBlob',
    'x-ms-lease-state': 'available',
    'x-ms-lease-status': 'unlocked',
    'x-ms-server-encrypted': 'true',
    'Accept-Ranges': 'bytes',
    ...(b.copy
      ? {
          'x-ms-copy-id': b.copy.id,
          'x-ms-copy-source': b.copy.source,
          'x-ms-copy-status': b.copy.status,
          'x-ms-copy-progress': b.copy.progress,
          'x-ms-copy-completion-time': httpDate(b.copy.completionTime),
        }
      : {}),
  };
}

/** A service SAS may override response headers of reads (rscc, rsct, ...). */
function sasOverrides(req: BlobRequest): Headers {
  const p = req.params;
  if (!p.has('sig')) return {};
  return {
    'Cache-Control': p.get('rscc'),
    'Content-Disposition': p.get('rscd'),
    'Content-Encoding': p.get('rsce'),
    'Content-Language': p.get('rscl'),
    'Content-Type': p.get('rsct'),
  };
}

const defined = (h: Headers): Headers => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined));

export const putBlob: Operation = {
  name: 'PutBlob',
  level: 'blob',
  sasPermissions: ['w', 'c'],
  async handle({ req, body, service, respond, version, principal }) {
    const type = req.header('x-ms-blob-type');
    if (type === undefined) throw errors.missingHeader('x-ms-blob-type');
    if (type !== 'BlockBlob') throw errors.unsupportedBlobType(type);
    const max = maxPutBlobBytes(version);
    checkUploadLength(req, max);
    const blob = await service.blobs.put(req.account, req.container!, blobName(req), body, {
      properties: readContentProperties(req, true),
      metadata: readMetadata(req),
      conditions: readConditions(req),
      createOnly: mayOnlyCreate(principal),
      transferMd5: req.header('content-md5'),
      maxLength: max,
      expectedLength: Number(req.header('content-length')),
    });
    respond.send(201, { ...versionHeaders(blob), 'Content-MD5': blob.contentMd5, 'x-ms-request-server-encrypted': 'true' });
  },
};

/**
 * Copy Blob, and Copy Blob From URL (x-ms-requires-sync: true), which differs in how its source is
 * authorized (see copySource.ts): both complete at once, as the copy shares the source's extents.
 */
export const copyBlob: Operation = {
  name: 'CopyBlob',
  level: 'blob',
  sasPermissions: ['w', 'c'],
  async handle(ctx) {
    const { req, service, respond } = ctx;
    const sourceUrl = req.header('x-ms-copy-source')!;
    const sync = readBooleanHeader(req, 'x-ms-requires-sync', false);
    const source = await ctx.resolveCopySource(sourceUrl, sync ? 'fromUrl' : 'copy');
    const metadata = readMetadata(req);
    const blob = await service.blobs.copy(source, req.account, req.container!, blobName(req), {
      metadata: Object.keys(metadata).length > 0 ? metadata : undefined,
      conditions: readConditions(req),
      sourceConditions: readSourceConditions(req),
      sourceMd5: req.header('x-ms-source-content-md5'),
      sourceUrl,
      createOnly: mayOnlyCreate(ctx.principal),
    });
    respond.send(202, { ...versionHeaders(blob), 'x-ms-copy-id': blob.copy!.id, 'x-ms-copy-status': 'success' });
  },
};

/**
 * Put Blob From URL: a new block blob whose content is the source's, synchronously (201, as Azure).
 * Content properties are the source's (x-ms-copy-source-blob-properties, default true), each replaced
 * by an x-ms-blob-* header the request sends; metadata is the request's, never the source's.
 */
export const putBlobFromUrl: Operation = {
  name: 'PutBlobFromURL',
  level: 'blob',
  sasPermissions: ['w', 'c'],
  async handle(ctx) {
    const { req, service, respond, version } = ctx;
    requireEmptyBody(req);
    const copyProperties = readBooleanHeader(req, 'x-ms-copy-source-blob-properties', true);
    const source = await ctx.resolveCopySource(req.header('x-ms-copy-source')!, 'fromUrl');
    const max = maxPutBlobBytes(version);
    if (source.blob.size > max) throw errors.requestBodyTooLarge(max);
    const requested = readContentProperties(req, false);
    const properties: ContentProperties = copyProperties ? { ...contentPropertiesOf(source.blob), ...definedProperties(requested) } : requested;
    const blob = await service.blobs.writeFrom(source, req.account, req.container!, blobName(req), {
      properties,
      metadata: readMetadata(req),
      conditions: readConditions(req),
      sourceConditions: readSourceConditions(req),
      sourceMd5: req.header('x-ms-source-content-md5'),
      createOnly: mayOnlyCreate(ctx.principal),
    });
    respond.send(201, { ...versionHeaders(blob), 'Content-MD5': blob.contentMd5, 'x-ms-request-server-encrypted': 'true' });
  },
};

const definedProperties = (p: ContentProperties): ContentProperties => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as ContentProperties;

export const getBlob: Operation = {
  name: 'GetBlob',
  level: 'blob',
  sasPermissions: ['r'],
  anonymous: 'blob',
  async handle({ req, service, respond }) {
    const conditions = readConditions(req);
    if (conditions.ifNoneMatch?.trim() === '*') {
      throw new StorageError(400, 'UnsatisfiableCondition', 'The condition specified is unsatisfiable.');
    }
    const rangeHeader = req.header('x-ms-range') ?? req.header('range');
    const wantRangeMd5 = req.header('x-ms-range-get-content-md5') === 'true';
    const { blob, range, body } = await service.blobs.read(req.account, req.container!, blobName(req), rangeHeader, conditions);
    const headers: Headers = { ...propertyHeaders(blob), ...defined(sasOverrides(req)) };
    if (!range) {
      headers['Content-Length'] = blob.size;
      headers['Content-MD5'] = blob.contentMd5;
      await respond.stream(200, headers, body);
      return;
    }
    const length = range.end - range.start + 1;
    if (wantRangeMd5 && length > 4 * 1024 * 1024) {
      body.destroy();
      throw errors.outOfRangeInput('x-ms-range-get-content-md5 needs a range of at most 4 MiB');
    }
    headers['Content-Length'] = length;
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${blob.size}`;
    headers['x-ms-blob-content-md5'] = blob.contentMd5;
    if (wantRangeMd5) headers['Content-MD5'] = await rangeMd5(service, req, range);
    await respond.stream(206, headers, body);
  },
};

async function rangeMd5(service: BlobService, req: BlobRequest, range: { start: number; end: number }): Promise<string> {
  const { body } = await service.blobs.read(req.account, req.container!, blobName(req), `bytes=${range.start}-${range.end}`, {});
  return md5Of(body);
}

export const getBlobProperties: Operation = {
  name: 'GetBlobProperties',
  level: 'blob',
  sasPermissions: ['r'],
  anonymous: 'blob',
  async handle({ req, service, respond }) {
    const blob = await service.blobs.getProperties(req.account, req.container!, blobName(req), readConditions(req));
    respond.send(200, {
      ...propertyHeaders(blob),
      ...defined(sasOverrides(req)),
      'Content-Length': blob.size,
      'Content-MD5': blob.contentMd5,
      'x-ms-access-tier': 'Hot',
      'x-ms-access-tier-inferred': 'true',
    });
  },
};

export const getBlobMetadata: Operation = {
  name: 'GetBlobMetadata',
  level: 'blob',
  sasPermissions: ['r'],
  anonymous: 'blob',
  async handle({ req, service, respond }) {
    const blob = await service.blobs.getProperties(req.account, req.container!, blobName(req), readConditions(req));
    respond.send(200, { ...versionHeaders(blob), ...metadataHeaders(blob.metadata) });
  },
};

export const setBlobProperties: Operation = {
  name: 'SetBlobProperties',
  level: 'blob',
  sasPermissions: ['w'],
  async handle({ req, service, respond }) {
    const blob = await service.blobs.setProperties(req.account, req.container!, blobName(req), readContentProperties(req, false), readConditions(req));
    respond.send(200, versionHeaders(blob));
  },
};

export const setBlobMetadata: Operation = {
  name: 'SetBlobMetadata',
  level: 'blob',
  sasPermissions: ['w'],
  async handle({ req, service, respond }) {
    const blob = await service.blobs.setMetadata(req.account, req.container!, blobName(req), readMetadata(req), readConditions(req));
    respond.send(200, { ...versionHeaders(blob), 'x-ms-request-server-encrypted': 'true' });
  },
};

export const deleteBlob: Operation = {
  name: 'DeleteBlob',
  level: 'blob',
  sasPermissions: ['d'],
  async handle({ req, service, respond }) {
    await service.blobs.delete(req.account, req.container!, blobName(req), readConditions(req));
    respond.send(202, { 'x-ms-delete-type-permanent': 'true' });
  },
};
