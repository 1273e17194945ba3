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

/** A blob with its content, read together (one transaction): the segments are this version's. */
export interface BlobContent {
  blob: Blob;
  segments: StoredSegment[];
}

/**
 * What a write decided on when it read the resource it changes, for the store to check inside the
 * write's own transaction (compare-and-set): `{ etag }` the resource as read, `'absent'` none was there
 * (commitBlob only), `'any'` the write does not depend on what is there. Etags change on every write, so
 * an unchanged etag means nothing came between the read and the write.
 */
export type Expect = 'any' | 'absent' | { etag: string };

/**
 * What a blob commit read besides the blob it replaces, each checked inside its transaction.
 * `staged`: the blob's uncommitted blocks as read, all of them (a block list takes some and discards the
 * rest); the blob must still have exactly these staged, each with the same extent. `shared`: extents of
 * another blob the new content shares (a copy's source); each must still be referenced by some blob or
 * staged block: an extent nothing refers to may already be being removed, and never becomes referenced
 * again.
 */
export interface CommitGuard {
  expect: Expect;
  staged?: UncommittedBlock[];
  shared?: string[];
}

/**
 * A write's expectation no longer held when the store came to apply it (another write came between its
 * read and its write, or the container is gone); nothing was changed. The domain reads again and decides
 * again (see optimistic.ts), so the answer is the one a serial order of the two writes gives.
 */
export class WriteConflict extends Error {
  constructor(what: string) {
    super(`write conflict: ${what} changed since it was read`);
  }
}

/**
 * What the Blob service needs from a metadata store. Every method is one transaction: it either happens
 * whole or not at all, and is on the disk once `durable` resolves. Methods that drop references to bytes
 * return the extents nothing refers to any more, for the caller to remove from the byte store. Several
 * servers may share one store: a write's checks (`Expect`, `CommitGuard`) run inside its transaction, so
 * no other write can slip between a check and the change it guards (serializable, as the contract
 * suite, test/contract/blobMetadataStore.test.ts, shows with writes racing).
 */
export interface BlobMetadataStore {
  /**
   * Resolves once every change committed before the call is on the disk; many callers share one flush
   * (group commit). A change is answered, and the extents it freed are removed, only after this.
   */
  durable(): Promise<void>;

  getContainer(account: string, name: string): Promise<Container | undefined>;
  /** False when the container exists already. */
  createContainer(container: Container): Promise<boolean>;
  /** Deletes the container, its blobs and staged blocks. `{ etag }` not met (or gone): WriteConflict; with 'any', a missing container is `deleted: false`. */
  deleteContainer(account: string, name: string, expect: Expect): Promise<{ deleted: boolean; freed: string[] }>;
  /** The container as changed. WriteConflict when it is gone or `expect` is not met. */
  updateContainer(account: string, name: string, changes: ContainerChanges, expect: Expect): Promise<Container>;
  listContainers(account: string, prefix: string, marker: string, limit: number): Promise<ListPage<Container>>;

  getBlob(account: string, container: string, name: string): Promise<Blob | undefined>;
  getBlobContent(account: string, container: string, name: string): Promise<BlobContent | undefined>;
  /**
   * Creates or replaces a blob, and discards the blob's uncommitted blocks. WriteConflict when the
   * container is gone or `guard` is not met.
   */
  commitBlob(blob: NewBlob, guard: CommitGuard): Promise<{ blob: Blob; freed: string[] }>;
  /** The blob as changed. WriteConflict when it is gone or `expect` is not met. */
  updateBlob(account: string, container: string, name: string, changes: BlobChanges, expect: Expect): Promise<Blob>;
  /** Deletes the blob and its staged blocks. `{ etag }` not met (or gone): WriteConflict; with 'any', a missing blob is `deleted: false`. */
  deleteBlob(account: string, container: string, name: string, expect: Expect): Promise<{ deleted: boolean; freed: string[] }>;
  listBlobs(account: string, container: string, opts: { prefix: string; delimiter: string; marker: string; limit: number }): Promise<ListPage<BlobListItem>>;

  /** Stages a block; a block staged again under the same id replaces the earlier one. WriteConflict when the container is gone. */
  putUncommittedBlock(account: string, container: string, blob: string, block: UncommittedBlock, now: number): Promise<{ freed: string[] }>;
  getUncommittedBlocks(account: string, container: string, blob: string): Promise<UncommittedBlock[]>;
  /** Drops blocks staged before `before` that were never committed. */
  expireUncommittedBlocks(before: number): Promise<{ freed: string[] }>;

  isExtentReferenced(extent: string): Promise<boolean>;
}
