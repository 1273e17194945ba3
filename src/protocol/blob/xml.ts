import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { errors, type StorageError } from '../../domain/blob/errors.js';
import type { AccessPolicy, Blob, BlockInfo, BlockReference, Container } from '../../domain/blob/models.js';
import type { BlobListItem } from '../../domain/blob/store.js';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@', suppressEmptyNode: false });
const DECLARATION = '<?xml version="1.0" encoding="utf-8"?>';

const build = (doc: unknown): string => DECLARATION + builder.build(doc);

const rfc1123 = (ms: number): string => new Date(ms).toUTCString();

export function errorXml(err: StorageError, requestId: string): string {
  return build({
    Error: {
      Code: err.code,
      Message: `${err.message}\nRequestId:${requestId}\nTime:${new Date().toISOString()}`,
      ...err.details,
    },
  });
}

function containerXml(c: Container, withMetadata: boolean) {
  return {
    Name: c.name,
    Properties: {
      'Last-Modified': rfc1123(c.lastModified),
      Etag: c.etag,
      LeaseStatus: 'unlocked',
      LeaseState: 'available',
      ...(c.publicAccess ? { PublicAccess: c.publicAccess } : {}),
      DefaultEncryptionScope: '$account-encryption-key',
      DenyEncryptionScopeOverride: 'false',
      HasImmutabilityPolicy: 'false',
      HasLegalHold: 'false',
    },
    ...(withMetadata ? { Metadata: c.metadata } : {}),
  };
}

export function containerListXml(
  serviceEndpoint: string,
  q: { prefix: string; marker: string; maxResults: number },
  containers: Container[],
  nextMarker: string | undefined,
  withMetadata: boolean,
): string {
  return build({
    EnumerationResults: {
      '@ServiceEndpoint': serviceEndpoint,
      ...(q.prefix ? { Prefix: q.prefix } : {}),
      ...(q.marker ? { Marker: q.marker } : {}),
      MaxResults: q.maxResults,
      Containers: { Container: containers.map((c) => containerXml(c, withMetadata)) },
      NextMarker: nextMarker ?? '',
    },
  });
}

function blobXml(b: Blob, withMetadata: boolean) {
  return {
    Name: b.name,
    Properties: {
      'Creation-Time': rfc1123(b.created),
      'Last-Modified': rfc1123(b.lastModified),
      Etag: b.etag.replaceAll('"', ''),
      'Content-Length': b.size,
      'Content-Type': b.contentType ?? '',
      'Content-Encoding': b.contentEncoding ?? '',
      'Content-Language': b.contentLanguage ?? '',
      'Content-CRC64': '',
      'Content-MD5': b.contentMd5 ?? '',
      'Cache-Control': b.cacheControl ?? '',
      'Content-Disposition': b.contentDisposition ?? '',
      BlobType: 'BlockBlob',
      LeaseStatus: 'unlocked',
      LeaseState: 'available',
      ...(b.copy
        ? {
            CopyId: b.copy.id,
            CopyStatus: b.copy.status,
            CopySource: b.copy.source,
            CopyProgress: b.copy.progress,
            CopyCompletionTime: rfc1123(b.copy.completionTime),
          }
        : {}),
      ServerEncrypted: 'true',
      AccessTier: 'Hot',
      AccessTierInferred: 'true',
    },
    ...(withMetadata ? { Metadata: b.metadata } : {}),
  };
}

export function blobListXml(
  serviceEndpoint: string,
  container: string,
  q: { prefix: string; delimiter: string; marker: string; maxResults: number },
  items: BlobListItem[],
  nextMarker: string | undefined,
  withMetadata: boolean,
): string {
  const blobs = items.filter((i) => i.kind === 'blob').map((i) => blobXml(i.blob, withMetadata));
  const prefixes = items.filter((i) => i.kind === 'prefix').map((i) => ({ Name: i.name }));
  return build({
    EnumerationResults: {
      '@ServiceEndpoint': serviceEndpoint,
      '@ContainerName': container,
      ...(q.prefix ? { Prefix: q.prefix } : {}),
      ...(q.marker ? { Marker: q.marker } : {}),
      MaxResults: q.maxResults,
      ...(q.delimiter ? { Delimiter: q.delimiter } : {}),
      Blobs: { Blob: blobs, BlobPrefix: prefixes },
      NextMarker: nextMarker ?? '',
    },
  });
}

export function blockListXml(committed: BlockInfo[] | undefined, uncommitted: BlockInfo[] | undefined): string {
  const blocks = (list: BlockInfo[]) => ({ Block: list.map((b) => ({ Name: b.id, Size: b.size })) });
  return build({
    BlockList: {
      ...(committed ? { CommittedBlocks: blocks(committed) } : {}),
      ...(uncommitted ? { UncommittedBlocks: blocks(uncommitted) } : {}),
    },
  });
}

export function signedIdentifiersXml(policies: AccessPolicy[]): string {
  return build({
    SignedIdentifiers: {
      SignedIdentifier: policies.map((p) => ({
        Id: p.id,
        AccessPolicy: {
          ...(p.start ? { Start: p.start } : {}),
          ...(p.expiry ? { Expiry: p.expiry } : {}),
          ...(p.permission ? { Permission: p.permission } : {}),
        },
      })),
    },
  });
}

export function servicePropertiesXml(): string {
  const disabled = { Version: '1.0', Enabled: 'false', RetentionPolicy: { Enabled: 'false' } };
  return build({
    StorageServiceProperties: {
      Logging: { Version: '1.0', Read: 'false', Write: 'false', Delete: 'false', RetentionPolicy: { Enabled: 'false' } },
      HourMetrics: disabled,
      MinuteMetrics: disabled,
      Cors: '',
      DeleteRetentionPolicy: { Enabled: 'false' },
      StaticWebsite: { Enabled: 'false' },
    },
  });
}

const orderedParser = new XMLParser({ preserveOrder: true, parseTagValue: false, trimValues: true, ignoreDeclaration: true });
const parser = new XMLParser({ parseTagValue: false, trimValues: true, ignoreDeclaration: true, isArray: (name) => name === 'SignedIdentifier' });

type OrderedNode = Record<string, OrderedNode[] | string>;

function parseOrdered(xml: string): OrderedNode[] {
  try {
    return orderedParser.parse(xml, true) as OrderedNode[];
  } catch {
    throw errors.invalidXml();
  }
}

const textOf = (children: OrderedNode[] | string | undefined): string =>
  Array.isArray(children) ? children.map((c) => (typeof c['#text'] === 'string' ? c['#text'] : '')).join('') : '';

/** A Put Block List body, in order: Latest, Committed and Uncommitted entries may interleave. */
export function parseBlockList(xml: string): BlockReference[] {
  const root = parseOrdered(xml).find((n) => 'BlockList' in n);
  const entries = root?.BlockList;
  if (!Array.isArray(entries)) throw errors.invalidXml();
  return entries.map((entry) => {
    const from = Object.keys(entry)[0];
    if (from !== 'Latest' && from !== 'Committed' && from !== 'Uncommitted') throw errors.invalidXml();
    return { from, id: textOf(entry[from]) };
  });
}

export function parseSignedIdentifiers(xml: string): AccessPolicy[] {
  if (xml.trim() === '') return [];
  let doc: { SignedIdentifiers?: { SignedIdentifier?: { Id?: string; AccessPolicy?: Record<string, string> }[] } | '' };
  try {
    doc = parser.parse(xml, true);
  } catch {
    throw errors.invalidXml();
  }
  if (doc.SignedIdentifiers === undefined) throw errors.invalidXml();
  const list = doc.SignedIdentifiers === '' ? [] : (doc.SignedIdentifiers.SignedIdentifier ?? []);
  return list.map((si) => {
    if (!si.Id || si.Id.length > 64) throw errors.invalidXml();
    const policy = si.AccessPolicy ?? {};
    return { id: si.Id, start: policy.Start || undefined, expiry: policy.Expiry || undefined, permission: policy.Permission || undefined };
  });
}

