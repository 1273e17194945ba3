import type { Segment } from './byteStore.js';
import type { AccessPolicy, Blob, Container, ContentProperties, CopyState, Metadata, PublicAccess } from './models.js';

export interface StoredSegment extends Segment {
  blockId: string | null;
}

export interface UncommittedBlock {
  blockId: string;
  extent: string;
  length: number;
}

export interface NewBlob extends ContentProperties {
  account: string;
  container: string;
  name: string;
  etag: string;
  now: number;
  metadata: Metadata;
  segments: StoredSegment[];
  copy?: CopyState;
}

export interface ContainerChanges {
  etag: string;
  lastModified: number;
  metadata?: Metadata;
  publicAccess?: PublicAccess | null;
  accessPolicies?: AccessPolicy[];
}

export interface BlobChanges extends ContentProperties {
  etag: string;
  lastModified: number;
  metadata?: Metadata;
}

export interface ListPage<T> {
  items: T[];
  nextMarker: string | undefined;
}

export type BlobListItem = { kind: 'blob'; blob: Blob } | { kind: 'prefix'; name: string };

/**
 * What the Blob service needs from a metadata store. Every method is one transaction: it either happens
 * whole or not at all, and is on the disk once `durable` resolves. Methods that drop references to bytes
 * return the extents nothing refers to any more, for the caller to remove from the byte store.
 */
export interface BlobMetadataStore {
  /**
   * Resolves once every change committed before the call is on the disk; many callers share one flush
   * (group commit). A change is answered, and the extents it freed are removed, only after this.
   */
  durable(): Promise<void>;
  /** The same, blocking, for the synchronous operations (container and property updates). */
  durableSync(): void;

  getContainer(account: string, name: string): Container | undefined;
  /** False when the container exists already. */
  createContainer(container: Container): boolean;
  deleteContainer(account: string, name: string): { deleted: boolean; freed: string[] };
  updateContainer(account: string, name: string, changes: ContainerChanges): void;
  listContainers(account: string, prefix: string, marker: string, limit: number): ListPage<Container>;

  getBlob(account: string, container: string, name: string): Blob | undefined;
  getSegments(blobId: number): StoredSegment[];
  /** Creates or replaces a blob, and discards the blob's uncommitted blocks. */
  commitBlob(blob: NewBlob): { blob: Blob; freed: string[] };
  updateBlob(blobId: number, changes: BlobChanges): void;
  deleteBlob(account: string, container: string, name: string): { deleted: boolean; freed: string[] };
  listBlobs(account: string, container: string, opts: { prefix: string; delimiter: string; marker: string; limit: number }): ListPage<BlobListItem>;

  /** Stages a block; a block staged again under the same id replaces the earlier one. */
  putUncommittedBlock(account: string, container: string, blob: string, block: UncommittedBlock, now: number): { freed: string[] };
  getUncommittedBlocks(account: string, container: string, blob: string): UncommittedBlock[];
  /** Drops blocks staged before `before` that were never committed. */
  expireUncommittedBlocks(before: number): { freed: string[] };

  isExtentReferenced(extent: string): boolean;
}
