/** User metadata: names keep the case they were set in and compare case-insensitively. */
export type Metadata = Record<string, string>;

export type PublicAccess = 'container' | 'blob';

/** A stored access policy of a container (Set Container ACL); a SAS names it with `si`. */
export interface AccessPolicy {
  id: string;
  start?: string;
  expiry?: string;
  permission?: string;
}

export interface Container {
  account: string;
  name: string;
  etag: string;
  created: number;
  lastModified: number;
  metadata: Metadata;
  publicAccess: PublicAccess | undefined;
  accessPolicies: AccessPolicy[];
}

/** The properties a client sets with x-ms-blob-* headers and reads back as Content-* headers. */
export interface ContentProperties {
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
  /** Base64 MD5 of the whole blob, when known. */
  contentMd5?: string;
}

export interface CopyState {
  id: string;
  source: string;
  status: 'success';
  progress: string;
  completionTime: number;
}

export interface Blob extends ContentProperties {
  id: number;
  account: string;
  container: string;
  name: string;
  size: number;
  etag: string;
  created: number;
  lastModified: number;
  metadata: Metadata;
  copy?: CopyState;
}

export interface BlockInfo {
  /** The block id as the client sent it (base64). */
  id: string;
  size: number;
}

export type BlockListType = 'committed' | 'uncommitted' | 'all';

/** One entry of a Put Block List body: which list to take the block from. */
export interface BlockReference {
  id: string;
  from: 'Committed' | 'Uncommitted' | 'Latest';
}
