import { errors } from '../../domain/blob/errors.js';
import type { BlobRequest } from './request.js';

/**
 * What Kiln does not implement of the Blob REST API, in one place. The rule: a header or query parameter
 * of a feature Kiln lacks, present with a value other than its default or empty one, is refused, never
 * ignored (a `DELETE ?snapshot=…` that deleted the base blob was the reason). Azure's own codes for input
 * a service does not support: 400 UnsupportedHeader with HeaderName, 400 UnsupportedQueryParameter with
 * QueryParameterName; the message says what Kiln does not support. Headers and parameters Azure does
 * not define for an operation are ignored, as Azure ignores them. See docs/compatibility.md.
 *
 * Source: the request parameters of the Blob REST spec (Azure/azure-rest-api-specs,
 * specification/storage/data-plane/Microsoft.BlobStorage, as the @azure/storage-blob 12.x client
 * serializes them), each listed here or implemented by an operation.
 */
interface Unsupported {
  name: string;
  feature: string;
  /** Values that mean what Kiln does anyway (compared case-insensitively); empty is always accepted. */
  defaults?: string[];
}

const LEASES = 'leases (Kiln never grants one)';
const SNAPSHOTS = 'blob snapshots';
const TAGS = 'blob index tags';
const TIERS = 'access tiers other than Hot';
const IMMUTABILITY = 'immutability policies and legal holds';
const CPK = 'customer-provided encryption keys';
const SCOPES = 'encryption scopes';
const PAGE_BLOBS = 'page blobs';
const APPEND_BLOBS = 'append blobs';
const CRC64 = 'CRC64 content validation';
const ACCOUNT_KEY_SCOPE = '$account-encryption-key';

export const UNSUPPORTED_HEADERS: Unsupported[] = [
  { name: 'x-ms-lease-id', feature: LEASES },
  { name: 'x-ms-source-lease-id', feature: LEASES },
  { name: 'x-ms-lease-action', feature: LEASES },
  { name: 'x-ms-lease-duration', feature: LEASES },
  { name: 'x-ms-lease-break-period', feature: LEASES },
  { name: 'x-ms-proposed-lease-id', feature: LEASES },
  // Any value: `include` and `only` both speak of snapshots, which Kiln does not keep.
  { name: 'x-ms-delete-snapshots', feature: SNAPSHOTS },
  { name: 'x-ms-previous-snapshot-url', feature: SNAPSHOTS },
  { name: 'x-ms-tags', feature: TAGS },
  { name: 'x-ms-if-tags', feature: TAGS },
  { name: 'x-ms-source-if-tags', feature: TAGS },
  // REPLACE with no x-ms-tags: the copy has no tags, which is what Kiln makes.
  { name: 'x-ms-copy-source-tag-option', feature: TAGS, defaults: ['REPLACE'] },
  // Hot is the account's default tier: every Kiln blob is Hot (reported as inferred).
  { name: 'x-ms-access-tier', feature: TIERS, defaults: ['Hot'] },
  { name: 'x-ms-access-tier-if-modified-since', feature: TIERS },
  { name: 'x-ms-access-tier-if-unmodified-since', feature: TIERS },
  { name: 'x-ms-rehydrate-priority', feature: TIERS },
  { name: 'x-ms-immutability-policy-until-date', feature: IMMUTABILITY },
  { name: 'x-ms-immutability-policy-mode', feature: IMMUTABILITY },
  { name: 'x-ms-legal-hold', feature: IMMUTABILITY, defaults: ['false'] },
  { name: 'x-ms-immutable-storage-with-versioning-enabled', feature: IMMUTABILITY, defaults: ['false'] },
  { name: 'x-ms-encryption-key', feature: CPK },
  { name: 'x-ms-encryption-key-sha256', feature: CPK },
  { name: 'x-ms-encryption-algorithm', feature: CPK },
  { name: 'x-ms-source-encryption-key', feature: CPK },
  { name: 'x-ms-source-encryption-key-sha256', feature: CPK },
  { name: 'x-ms-source-encryption-algorithm', feature: CPK },
  { name: 'x-ms-encryption-scope', feature: SCOPES, defaults: [ACCOUNT_KEY_SCOPE] },
  { name: 'x-ms-default-encryption-scope', feature: SCOPES, defaults: [ACCOUNT_KEY_SCOPE] },
  { name: 'x-ms-deny-encryption-scope-override', feature: SCOPES, defaults: ['false'] },
  { name: 'x-ms-encryption-context', feature: 'encryption contexts' },
  { name: 'x-ms-blob-content-length', feature: PAGE_BLOBS },
  { name: 'x-ms-blob-sequence-number', feature: PAGE_BLOBS },
  { name: 'x-ms-sequence-number-action', feature: PAGE_BLOBS },
  { name: 'x-ms-if-sequence-number-le', feature: PAGE_BLOBS },
  { name: 'x-ms-if-sequence-number-lt', feature: PAGE_BLOBS },
  { name: 'x-ms-if-sequence-number-eq', feature: PAGE_BLOBS },
  { name: 'x-ms-page-write', feature: PAGE_BLOBS },
  { name: 'x-ms-blob-condition-maxsize', feature: APPEND_BLOBS },
  { name: 'x-ms-blob-condition-appendpos', feature: APPEND_BLOBS },
  { name: 'x-ms-seal-blob', feature: APPEND_BLOBS, defaults: ['false'] },
  { name: 'x-ms-content-crc64', feature: CRC64 },
  { name: 'x-ms-source-content-crc64', feature: CRC64 },
  { name: 'x-ms-range-get-content-crc64', feature: CRC64, defaults: ['false'] },
  { name: 'x-ms-structured-body', feature: CRC64 },
  { name: 'x-ms-structured-content-length', feature: CRC64 },
  { name: 'x-ms-copy-source-authorization', feature: 'OAuth-authorized copy sources (give the source URL a SAS)' },
  { name: 'x-ms-copy-action', feature: 'Abort Copy Blob (copies complete at once)' },
  { name: 'x-ms-expiry-option', feature: 'blob expiry' },
  { name: 'x-ms-expiry-time', feature: 'blob expiry' },
  { name: 'x-ms-deleted-container-name', feature: 'container soft delete' },
  { name: 'x-ms-deleted-container-version', feature: 'container soft delete' },
  { name: 'x-ms-source-container-name', feature: 'Rename Container' },
];

export const UNSUPPORTED_QUERY: Unsupported[] = [
  { name: 'snapshot', feature: SNAPSHOTS },
  { name: 'prevsnapshot', feature: SNAPSHOTS },
  { name: 'versionid', feature: 'blob versions' },
  { name: 'deletetype', feature: 'blob soft delete' },
  { name: 'where', feature: TAGS },
  { name: 'copyid', feature: 'Abort Copy Blob (copies complete at once)' },
  { name: 'showonly', feature: 'hierarchical namespace listings' },
  { name: 'startfrom', feature: 'List Blobs startFrom' },
];

/** Operations of the Blob REST API (by comp=, where Kiln's router has none) that Kiln does not implement. */
export const UNSUPPORTED_COMPS: Record<'service' | 'container' | 'blob', Record<string, string>> = {
  service: {
    properties: 'Set Blob Service Properties',
    stats: 'Get Blob Service Stats',
    userdelegationkey: 'user delegation keys',
    batch: 'Blob Batch',
    blobs: 'Find Blobs by Tags',
  },
  container: {
    lease: 'container leases',
    undelete: 'container soft delete',
    rename: 'Rename Container',
    batch: 'Blob Batch',
    blobs: 'Find Blobs by Tags',
  },
  blob: {
    lease: 'blob leases',
    snapshot: SNAPSHOTS,
    tags: TAGS,
    tier: 'Set Blob Tier',
    copy: 'Abort Copy Blob (copies complete at once)',
    page: PAGE_BLOBS,
    pagelist: PAGE_BLOBS,
    incrementalcopy: 'Incremental Copy Blob',
    appendblock: APPEND_BLOBS,
    seal: APPEND_BLOBS,
    expiry: 'blob expiry',
    immutabilitypolicies: IMMUTABILITY,
    legalhold: IMMUTABILITY,
    query: 'Query Blob Contents',
    undelete: 'blob soft delete',
  },
};

const isDefault = (entry: Unsupported, value: string): boolean => value.trim() === '' || (entry.defaults ?? []).some((d) => d.toLowerCase() === value.trim().toLowerCase());

/**
 * Refuses the first query parameter, then header, of the tables above that the request sets to a value
 * other than its default. Run once authenticated, so that callers who may not act learn nothing from it.
 */
export function refuseUnsupported(req: BlobRequest): void {
  for (const entry of UNSUPPORTED_QUERY) {
    const value = req.params.get(entry.name);
    if (value !== undefined && !isDefault(entry, value)) throw errors.unsupportedQuery(entry.name, value, entry.feature);
  }
  for (const entry of UNSUPPORTED_HEADERS) {
    const value = req.header(entry.name);
    if (value !== undefined && !isDefault(entry, value)) throw errors.unsupportedHeader(entry.name, entry.feature);
  }
}

/** The refusal for a comp= operation Kiln does not implement, if `comp` names one at this level. */
export function unsupportedComp(level: keyof typeof UNSUPPORTED_COMPS, comp: string) {
  const feature = UNSUPPORTED_COMPS[level][comp.toLowerCase()];
  return feature === undefined ? undefined : errors.unsupportedQuery('comp', comp, feature);
}

/**
 * List Blobs' include=: metadata and copy are honoured; snapshots, versions, deleted blobs, tags,
 * immutability policies and legal holds are honoured in that none can exist in Kiln (creating any is
 * refused), so the listing is what Azure lists for an account without them. uncommittedblobs and
 * permissions (hierarchical namespace) are refused; an unknown value is invalid, as on Azure.
 */
const BLOB_INCLUDES = {
  honoured: ['metadata', 'copy', 'snapshots', 'versions', 'deleted', 'deletedwithversions', 'tags', 'immutabilitypolicy', 'legalhold'],
  refused: { uncommittedblobs: 'listing blobs that have only uncommitted blocks', permissions: 'hierarchical namespace listings' } as Record<string, string>,
};
/** List Containers' include=: metadata; deleted and system are honoured as none exist. */
const CONTAINER_INCLUDES = { honoured: ['metadata', 'deleted', 'system'], refused: {} as Record<string, string> };

/** Parses include= for a listing; refuses what Kiln does not do. Returns the values, lower-cased. */
export function readInclude(req: BlobRequest, listing: 'blobs' | 'containers'): Set<string> {
  const raw = req.params.get('include') ?? '';
  const table = listing === 'blobs' ? BLOB_INCLUDES : CONTAINER_INCLUDES;
  const values = new Set(
    raw
      .split(',')
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v !== ''),
  );
  for (const value of values) {
    const refused = table.refused[value];
    if (refused !== undefined) throw errors.unsupportedQuery('include', raw, refused);
    if (!table.honoured.includes(value)) throw errors.invalidQuery('include', raw);
  }
  return values;
}
