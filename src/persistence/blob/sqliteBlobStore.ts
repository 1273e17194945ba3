import type { Db } from '../sqlite/database.js';
import type { WalFlush } from '../sqlite/walFlush.js';
import type { Blob, Container } from '../../domain/blob/models.js';
import {
  WriteConflict,
  type BlobChanges,
  type BlobContent,
  type BlobListItem,
  type BlobMetadataStore,
  type CommitGuard,
  type ContainerChanges,
  type Expect,
  type ListPage,
  type NewBlob,
  type StoredSegment,
  type UncommittedBlock,
} from '../../domain/blob/store.js';
import { meets, stagedUnchanged } from './guards.js';
import { listBlobPage, pastPrefix, type BlobListing } from './listing.js';
import { blobChangeColumns, containerChangeColumns, toBlob, toContainer, type BlobRow, type ContainerRow } from './rows.js';

/** The SET clause of an update of these columns, each bound to the parameter of its own name. */
const setClause = (columns: Record<string, unknown>): string =>
  Object.keys(columns)
    .map((column) => `${column} = @${column}`)
    .join(', ');

/** Durability of a connection whose commits are durable when they return (synchronous=FULL). */
const ALREADY_DURABLE: Pick<WalFlush, 'flush'> = { flush: () => Promise.resolve() };

/**
 * The Blob service's metadata in SQLite: one prepared statement per query, one transaction per change.
 * Given a WalFlush, its connection commits without waiting for the disk and `durable` is the group
 * commit that every answer waits for. The methods are asynchronous as the port is, but each runs its
 * transaction synchronously, whole, on the connection the data directory's lock gives this server alone:
 * no other write can come between a write's checks and its change.
 */
export class SqliteBlobStore implements BlobMetadataStore {
  private readonly q;

  constructor(
    private readonly db: Db,
    private readonly wal: Pick<WalFlush, 'flush'> = ALREADY_DURABLE,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.q = {
      getContainer: p('SELECT * FROM containers WHERE account = ? AND name = ?'),
      containerEtag: p('SELECT etag FROM containers WHERE account = ? AND name = ?'),
      insertContainer: p(
        `INSERT OR IGNORE INTO containers (account, name, etag, created, last_modified, metadata, public_access, access_policies)
         VALUES (@account, @name, @etag, @created, @lastModified, @metadata, @publicAccess, @accessPolicies)`,
      ),
      containerExtents: p(
        `SELECT s.extent FROM blobs b JOIN blob_segments s ON s.blob_id = b.id WHERE b.account = ? AND b.container = ? AND s.extent IS NOT NULL
         UNION SELECT extent FROM uncommitted_blocks WHERE account = ? AND container = ?`,
      ),
      deleteContainer: p('DELETE FROM containers WHERE account = ? AND name = ?'),
      listContainers: p('SELECT * FROM containers WHERE account = ? AND name >= ? AND name >= ? AND name < ? ORDER BY name LIMIT ?'),
      getBlob: p('SELECT * FROM blobs WHERE account = ? AND container = ? AND name = ?'),
      getSegments: p('SELECT extent, data, offset, length, block_id AS blockId FROM blob_segments WHERE blob_id = ? ORDER BY seq'),
      segmentExtents: p('SELECT DISTINCT extent FROM blob_segments WHERE blob_id = ? AND extent IS NOT NULL'),
      deleteBlobById: p('DELETE FROM blobs WHERE id = ?'),
      insertBlob: p(
        `INSERT INTO blobs (account, container, name, size, etag, created, last_modified, content_type, content_encoding,
           content_language, content_disposition, cache_control, content_md5, metadata, copy)
         VALUES (@account, @container, @name, @size, @etag, @created, @now, @contentType, @contentEncoding,
           @contentLanguage, @contentDisposition, @cacheControl, @contentMd5, @metadata, @copy)`,
      ),
      insertSegment: p('INSERT INTO blob_segments (blob_id, seq, extent, data, offset, length, block_id) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      listBlobs: p('SELECT * FROM blobs WHERE account = ? AND container = ? AND name >= ? AND name >= ? AND name < ? ORDER BY name LIMIT ?'),
      uncommittedExtentsOfBlob: p('SELECT extent FROM uncommitted_blocks WHERE account = ? AND container = ? AND blob = ?'),
      deleteUncommittedOfBlob: p('DELETE FROM uncommitted_blocks WHERE account = ? AND container = ? AND blob = ?'),
      getUncommittedBlock: p('SELECT extent FROM uncommitted_blocks WHERE account = ? AND container = ? AND blob = ? AND block_id = ?'),
      upsertUncommittedBlock: p(
        `INSERT OR REPLACE INTO uncommitted_blocks (account, container, blob, block_id, extent, length, created)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      listUncommitted: p(
        `SELECT block_id AS blockId, extent, length FROM uncommitted_blocks
         WHERE account = ? AND container = ? AND blob = ? ORDER BY created, block_id`,
      ),
      expiredExtents: p('SELECT extent FROM uncommitted_blocks WHERE created < ?'),
      deleteExpired: p('DELETE FROM uncommitted_blocks WHERE created < ?'),
      segmentUsesExtent: p('SELECT 1 FROM blob_segments WHERE extent = ? LIMIT 1'),
      blockUsesExtent: p('SELECT 1 FROM uncommitted_blocks WHERE extent = ? LIMIT 1'),
      totalChanges: p('SELECT total_changes()').pluck(),
    };
  }

  durable(): Promise<void> {
    return this.wal.flush();
  }

  /** Of the extents given, those that no blob or staged block refers to any more. */
  private unreferenced(extents: Iterable<string>): string[] {
    return [...new Set(extents)].filter((e) => !this.referenced(e));
  }

  private referenced(extent: string): boolean {
    return this.q.segmentUsesExtent.get(extent) !== undefined || this.q.blockUsesExtent.get(extent) !== undefined;
  }

  async isExtentReferenced(extent: string): Promise<boolean> {
    return this.referenced(extent);
  }

  private container(account: string, name: string): Container | undefined {
    const row = this.q.getContainer.get(account, name) as ContainerRow | undefined;
    return row && toContainer(row);
  }

  async getContainer(account: string, name: string): Promise<Container | undefined> {
    return this.container(account, name);
  }

  async createContainer(c: Container): Promise<boolean> {
    const result = this.q.insertContainer.run({
      account: c.account,
      name: c.name,
      etag: c.etag,
      created: c.created,
      lastModified: c.lastModified,
      metadata: JSON.stringify(c.metadata),
      publicAccess: c.publicAccess ?? null,
      accessPolicies: JSON.stringify(c.accessPolicies),
    });
    return result.changes === 1;
  }

  async deleteContainer(account: string, name: string, expect: Expect): Promise<{ deleted: boolean; freed: string[] }> {
    return this.db.transaction(() => {
      const current = this.q.containerEtag.get(account, name) as { etag: string } | undefined;
      if (!meets(current, expect)) throw new WriteConflict(`container ${name}`);
      if (!current) return { deleted: false, freed: [] };
      const extents = (this.q.containerExtents.all(account, name, account, name) as { extent: string }[]).map((r) => r.extent);
      this.q.deleteContainer.run(account, name);
      return { deleted: true, freed: this.unreferenced(extents) };
    })();
  }

  async updateContainer(account: string, name: string, changes: ContainerChanges, expect: Expect): Promise<Container> {
    const columns = containerChangeColumns(changes);
    const update = this.db.prepare(`UPDATE containers SET ${setClause(columns)} WHERE account = @account AND name = @name`);
    return this.db.transaction(() => {
      const current = this.q.containerEtag.get(account, name) as { etag: string } | undefined;
      if (!current || !meets(current, expect)) throw new WriteConflict(`container ${name}`);
      update.run({ ...columns, account, name });
      return this.container(account, name)!;
    })();
  }

  async listContainers(account: string, prefix: string, marker: string, limit: number): Promise<ListPage<Container>> {
    const rows = this.q.listContainers.all(account, prefix, marker, pastPrefix(prefix), limit + 1) as ContainerRow[];
    const more = rows.length > limit ? rows.pop() : undefined;
    return { items: rows.map(toContainer), nextMarker: more?.name };
  }

  private blobRow(account: string, container: string, name: string): BlobRow | undefined {
    return this.q.getBlob.get(account, container, name) as BlobRow | undefined;
  }

  async getBlob(account: string, container: string, name: string): Promise<Blob | undefined> {
    const row = this.blobRow(account, container, name);
    return row && toBlob(row);
  }

  async getBlobContent(account: string, container: string, name: string): Promise<BlobContent | undefined> {
    return this.db.transaction(() => {
      const row = this.blobRow(account, container, name);
      return row && { blob: toBlob(row), segments: this.q.getSegments.all(row.id) as StoredSegment[] };
    })();
  }

  /** Throws WriteConflict unless everything the commit read is still so (CommitGuard). */
  private checkGuard(b: NewBlob, old: BlobRow | undefined, guard: CommitGuard): void {
    if (this.q.containerEtag.get(b.account, b.container) === undefined) throw new WriteConflict(`container ${b.container}`);
    if (!meets(old, guard.expect)) throw new WriteConflict(`blob ${b.name}`);
    if (guard.staged && !stagedUnchanged(guard.staged, this.q.listUncommitted.all(b.account, b.container, b.name) as UncommittedBlock[])) {
      throw new WriteConflict(`the blocks staged for ${b.name}`);
    }
    for (const extent of new Set(guard.shared)) if (!this.referenced(extent)) throw new WriteConflict(`the source of ${b.name}`);
  }

  async commitBlob(b: NewBlob, guard: CommitGuard): Promise<{ blob: Blob; freed: string[] }> {
    return this.db.transaction(() => {
      const old = this.blobRow(b.account, b.container, b.name);
      this.checkGuard(b, old, guard);
      const dropped: string[] = [];
      if (old) {
        for (const r of this.q.segmentExtents.all(old.id) as { extent: string }[]) dropped.push(r.extent);
        this.q.deleteBlobById.run(old.id);
      }
      for (const r of this.q.uncommittedExtentsOfBlob.all(b.account, b.container, b.name) as { extent: string }[]) {
        dropped.push(r.extent);
      }
      this.q.deleteUncommittedOfBlob.run(b.account, b.container, b.name);
      const size = b.segments.reduce((sum, s) => sum + s.length, 0);
      const { lastInsertRowid } = this.q.insertBlob.run({
        account: b.account,
        container: b.container,
        name: b.name,
        size,
        etag: b.etag,
        created: old?.created ?? b.now,
        now: b.now,
        contentType: b.contentType ?? null,
        contentEncoding: b.contentEncoding ?? null,
        contentLanguage: b.contentLanguage ?? null,
        contentDisposition: b.contentDisposition ?? null,
        cacheControl: b.cacheControl ?? null,
        contentMd5: b.contentMd5 ?? null,
        metadata: JSON.stringify(b.metadata),
        copy: b.copy ? JSON.stringify(b.copy) : null,
      });
      const id = Number(lastInsertRowid);
      b.segments.forEach((s, seq) => this.q.insertSegment.run(id, seq, s.extent, s.data ?? null, s.offset, s.length, s.blockId));
      const row = this.blobRow(b.account, b.container, b.name)!;
      return { blob: toBlob(row), freed: this.unreferenced(dropped) };
    })();
  }

  async updateBlob(account: string, container: string, name: string, c: BlobChanges, expect: Expect): Promise<Blob> {
    const columns = blobChangeColumns(c);
    const update = this.db.prepare(`UPDATE blobs SET ${setClause(columns)} WHERE id = @id`);
    return this.db.transaction(() => {
      const current = this.blobRow(account, container, name);
      if (!current || !meets(current, expect)) throw new WriteConflict(`blob ${name}`);
      update.run({ ...columns, id: current.id });
      return toBlob(this.blobRow(account, container, name)!);
    })();
  }

  async deleteBlob(account: string, container: string, name: string, expect: Expect): Promise<{ deleted: boolean; freed: string[] }> {
    return this.db.transaction(() => {
      const old = this.blobRow(account, container, name);
      if (!meets(old, expect)) throw new WriteConflict(`blob ${name}`);
      const dropped = (this.q.uncommittedExtentsOfBlob.all(account, container, name) as { extent: string }[]).map((r) => r.extent);
      this.q.deleteUncommittedOfBlob.run(account, container, name);
      if (!old) return { deleted: false, freed: this.unreferenced(dropped) };
      for (const r of this.q.segmentExtents.all(old.id) as { extent: string }[]) dropped.push(r.extent);
      this.q.deleteBlobById.run(old.id);
      return { deleted: true, freed: this.unreferenced(dropped) };
    })();
  }

  /**
   * One page of listBlobPage's walk. The walk awaits between its reads, so another call of this store can
   * commit a write on its connection meanwhile; a page during which one did is read again, so that, as
   * when the walk was synchronous, no write of this server lands between the reads of one page.
   */
  async listBlobs(account: string, container: string, opts: BlobListing): Promise<ListPage<BlobListItem>> {
    const read = async (from: string, batch: number) => this.q.listBlobs.all(account, container, opts.prefix, from, pastPrefix(opts.prefix), batch) as BlobRow[];
    for (;;) {
      const before = this.changes();
      const page = await listBlobPage(opts, read, toBlob);
      if (this.changes() === before) return page;
    }
  }

  /** The rows this connection has changed since it opened (SQLite's total_changes()). */
  private changes(): number {
    return this.q.totalChanges.get() as number;
  }

  async putUncommittedBlock(account: string, container: string, blob: string, block: UncommittedBlock, now: number): Promise<{ freed: string[] }> {
    return this.db.transaction(() => {
      if (this.q.containerEtag.get(account, container) === undefined) throw new WriteConflict(`container ${container}`);
      const old = this.q.getUncommittedBlock.get(account, container, blob, block.blockId) as { extent: string } | undefined;
      this.q.upsertUncommittedBlock.run(account, container, blob, block.blockId, block.extent, block.length, now);
      return { freed: old ? this.unreferenced([old.extent]) : [] };
    })();
  }

  async getUncommittedBlocks(account: string, container: string, blob: string): Promise<UncommittedBlock[]> {
    return this.q.listUncommitted.all(account, container, blob) as UncommittedBlock[];
  }

  async expireUncommittedBlocks(before: number): Promise<{ freed: string[] }> {
    return this.db.transaction(() => {
      const extents = (this.q.expiredExtents.all(before) as { extent: string }[]).map((r) => r.extent);
      this.q.deleteExpired.run(before);
      return { freed: this.unreferenced(extents) };
    })();
  }
}
