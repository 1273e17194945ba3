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

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
const element = (name: string, value: string | number | undefined): string =>
  value === undefined || value === '' ? '' : `<${name}>${typeof value === 'number' ? value : escapeXml(value)}</${name}>`;

const metadataXml = (metadata: Record<string, string>): string =>
  `<Metadata>${Object.entries(metadata)
    .map(([k, v]) => `<${k}>${escapeXml(v)}</${k}>`)
    .join('')}</Metadata>`;

// Listing pages hold up to 5,000 entries: they are written as strings, which is several times faster
// than building a document tree. Unset optional properties are left out, as Azurite does.
function blobXml(b: Blob, include: BlobListInclude): string {
  const copy =
    b.copy && include.copy
      ? element('CopyId', b.copy.id) +
        element('CopyStatus', b.copy.status) +
        element('CopySource', b.copy.source) +
        element('CopyProgress', b.copy.progress) +
        element('CopyCompletionTime', rfc1123(b.copy.completionTime))
      : '';
  return (
    `<Blob><Name>${escapeXml(b.name)}</Name><Properties>` +
    `<Creation-Time>${rfc1123(b.created)}</Creation-Time><Last-Modified>${rfc1123(b.lastModified)}</Last-Modified>` +
    `<Etag>${b.etag.replaceAll('"', '')}</Etag><Content-Length>${b.size}</Content-Length>` +
    element('Content-Type', b.contentType) +
    element('Content-Encoding', b.contentEncoding) +
    element('Content-Language', b.contentLanguage) +
    element('Content-MD5', b.contentMd5) +
    element('Cache-Control', b.cacheControl) +
    element('Content-Disposition', b.contentDisposition) +
    '<BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>' +
    copy +
    '<ServerEncrypted>true</ServerEncrypted><AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>' +
    `</Properties>${include.metadata ? metadataXml(b.metadata) : ''}</Blob>`
  );
}

/** What List Blobs' include= adds to each blob: Azure lists copy properties only when asked. */
export interface BlobListInclude {
  metadata: boolean;
  copy: boolean;
}

export function blobListXml(
  serviceEndpoint: string,
  container: string,
  q: { prefix: string; delimiter: string; marker: string; maxResults: number },
  items: BlobListItem[],
  nextMarker: string | undefined,
  include: BlobListInclude,
): string {
  const entries = items.map((i) => (i.kind === 'blob' ? blobXml(i.blob, include) : `<BlobPrefix><Name>${escapeXml(i.name)}</Name></BlobPrefix>`));
  return (
    `${DECLARATION}<EnumerationResults ServiceEndpoint="${escapeXml(serviceEndpoint)}" ContainerName="${escapeXml(container)}">` +
    element('Prefix', q.prefix) +
    element('Marker', q.marker) +
    `<MaxResults>${q.maxResults}</MaxResults>` +
    element('Delimiter', q.delimiter) +
    `<Blobs>${entries.join('')}</Blobs><NextMarker>${escapeXml(nextMarker ?? '')}</NextMarker></EnumerationResults>`
  );
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
