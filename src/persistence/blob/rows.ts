import type { Blob, Container, CopyState, Metadata, PublicAccess } from '../../domain/blob/models.js';
import type { BlobChanges, ContainerChanges } from '../../domain/blob/store.js';

// The Blob tables' rows as both SQL stores read them (src/persistence/blob/schema.ts and
// src/persistence/postgres/blobSchema.ts have the same columns), and the columns a change sets.

export interface ContainerRow {
  account: string;
  name: string;
  etag: string;
  created: number;
  last_modified: number;
  metadata: string;
  public_access: string | null;
  access_policies: string;
}

export interface BlobRow {
  id: number;
  account: string;
  container: string;
  name: string;
  size: number;
  etag: string;
  created: number;
  last_modified: number;
  content_type: string | null;
  content_encoding: string | null;
  content_language: string | null;
  content_disposition: string | null;
  cache_control: string | null;
  content_md5: string | null;
  metadata: string;
  copy: string | null;
}

export const toContainer = (r: ContainerRow): Container => ({
  account: r.account,
  name: r.name,
  etag: r.etag,
  created: r.created,
  lastModified: r.last_modified,
  metadata: JSON.parse(r.metadata) as Metadata,
  publicAccess: (r.public_access ?? undefined) as PublicAccess | undefined,
  accessPolicies: JSON.parse(r.access_policies) as Container['accessPolicies'],
});

export const toBlob = (r: BlobRow): Blob => ({
  id: r.id,
  account: r.account,
  container: r.container,
  name: r.name,
  size: r.size,
  etag: r.etag,
  created: r.created,
  lastModified: r.last_modified,
  contentType: r.content_type ?? undefined,
  contentEncoding: r.content_encoding ?? undefined,
  contentLanguage: r.content_language ?? undefined,
  contentDisposition: r.content_disposition ?? undefined,
  cacheControl: r.cache_control ?? undefined,
  contentMd5: r.content_md5 ?? undefined,
  metadata: JSON.parse(r.metadata) as Metadata,
  copy: r.copy ? (JSON.parse(r.copy) as CopyState) : undefined,
});

/** The columns a container change sets, with their values as stored: those the change leaves out stay. */
export function containerChangeColumns(c: ContainerChanges): Record<string, unknown> {
  const columns: Record<string, unknown> = { etag: c.etag, last_modified: c.lastModified };
  if (c.metadata !== undefined) columns.metadata = JSON.stringify(c.metadata);
  if (c.publicAccess !== undefined) columns.public_access = c.publicAccess;
  if (c.accessPolicies !== undefined) columns.access_policies = JSON.stringify(c.accessPolicies);
  return columns;
}

const CONTENT_COLUMNS: [keyof BlobChanges, string][] = [
  ['contentType', 'content_type'],
  ['contentEncoding', 'content_encoding'],
  ['contentLanguage', 'content_language'],
  ['contentDisposition', 'content_disposition'],
  ['cacheControl', 'cache_control'],
  ['contentMd5', 'content_md5'],
];

/** The columns a blob change sets, with their values as stored. */
export function blobChangeColumns(c: BlobChanges): Record<string, unknown> {
  const columns: Record<string, unknown> = { etag: c.etag, last_modified: c.lastModified };
  if (c.metadata !== undefined) columns.metadata = JSON.stringify(c.metadata);
  // Set Blob Properties replaces every content property: those not given become empty.
  if (CONTENT_COLUMNS.some(([key]) => key in c)) for (const [key, column] of CONTENT_COLUMNS) columns[column] = c[key] ?? null;
  return columns;
}
