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
import { meets, stagedUnchanged } from '../blob/guards.js';
import { listBlobPage, pastPrefix, type BlobListing } from '../blob/listing.js';
import { blobChangeColumns, containerChangeColumns, toBlob, toContainer, type BlobRow, type ContainerRow } from '../blob/rows.js';
import type { PostgresDatabase, Queryable } from './database.js';

const SQL = {
  getContainer: 'SELECT * FROM containers WHERE account = $1 AND name = $2',
  containerEtag: 'SELECT etag FROM containers WHERE account = $1 AND name = $2',
  insertContainer: `INSERT INTO containers (account, name, etag, created, last_modified, metadata, public_access, access_policies)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
  containerExtents: `SELECT s.extent FROM blobs b JOIN blob_segments s ON s.blob_id = b.id WHERE b.account = $1 AND b.container = $2 AND s.extent IS NOT NULL
    UNION SELECT extent FROM uncommitted_blocks WHERE account = $1 AND container = $2`,
  // Cascades to the container's blobs, their segments and its staged blocks.
  deleteContainer: 'DELETE FROM containers WHERE account = $1 AND name = $2',
  listContainers: 'SELECT * FROM containers WHERE account = $1 AND name >= $2 AND name >= $3 AND name < $4 ORDER BY name LIMIT $5',
  getBlob: 'SELECT * FROM blobs WHERE account = $1 AND container = $2 AND name = $3',
  getSegments: 'SELECT extent, data, "offset", length, block_id AS "blockId" FROM blob_segments WHERE blob_id = $1 ORDER BY seq',
  // One statement: the blob row and its segments, unnested from one array per column (a block list
  // may have 50,000), seq from 0 as in SQLite.
  insertBlob: `WITH blob AS (
      INSERT INTO blobs (account, container, name, size, etag, created, last_modified, content_type, content_encoding,
        content_language, content_disposition, cache_control, content_md5, metadata, copy)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *
    ), segments AS (
      INSERT INTO blob_segments (blob_id, seq, extent, data, "offset", length, block_id)
      SELECT blob.id, s.seq - 1, s.extent, s.data, s.off, s.len, s.block_id
      FROM blob, unnest($16::text[], $17::bytea[], $18::bigint[], $19::bigint[], $20::text[]) WITH ORDINALITY AS s (extent, data, off, len, block_id, seq)
    )
    SELECT * FROM blob`,
  // A blob's row (id $4, NULL for none) and segments, and the staged blocks of its name; the extents they
  // referred to. The segments are deleted here, not by the cascade, to return their extents; the cascade,
  // run at the statement's end, finds none left.
  dropBlob: `WITH staged AS (DELETE FROM uncommitted_blocks WHERE account = $1 AND container = $2 AND blob = $3 RETURNING extent),
      segments AS (DELETE FROM blob_segments WHERE blob_id = $4 RETURNING extent),
      blob AS (DELETE FROM blobs WHERE id = $4)
    SELECT extent FROM staged UNION SELECT extent FROM segments WHERE extent IS NOT NULL`,
  listUncommitted: `SELECT block_id AS "blockId", extent, length FROM uncommitted_blocks
    WHERE account = $1 AND container = $2 AND blob = $3 ORDER BY created, block_id`,
  // The block's extent before (the CTE reads the snapshot the upsert started from), staged again or anew.
  stageBlock: `WITH old AS (SELECT extent FROM uncommitted_blocks WHERE account = $1 AND container = $2 AND blob = $3 AND block_id = $4),
      staged AS (
        INSERT INTO uncommitted_blocks (account, container, blob, block_id, extent, length, created) VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (account, container, blob, block_id) DO UPDATE SET extent = EXCLUDED.extent, length = EXCLUDED.length, created = EXCLUDED.created
      )
    SELECT extent FROM old`,
  expire: 'DELETE FROM uncommitted_blocks WHERE created < $1 RETURNING extent',
  referencedAmong: 'SELECT extent FROM blob_segments WHERE extent = ANY($1::text[]) UNION SELECT extent FROM uncommitted_blocks WHERE extent = ANY($1::text[])',
  listBlobs: 'SELECT * FROM blobs WHERE account = $1 AND container = $2 AND name >= $3 AND name >= $4 AND name < $5 ORDER BY name LIMIT $6',
};

type ExtentRow = { extent: string };
const extentsOf = (rows: ExtentRow[]): string[] => rows.map((r) => r.extent);

/** Of the extents given, those some blob or staged block refers to. */
async function referencedAmong(q: Queryable, extents: readonly string[]): Promise<Set<string>> {
  return new Set(extents.length ? extentsOf(await q.query<ExtentRow>(SQL.referencedAmong, [extents])) : []);
}

/** Of the extents given, in order and once each, those that no blob or staged block refers to any more. */
async function unreferenced(q: Queryable, extents: Iterable<string>): Promise<string[]> {
  const unique = [...new Set(extents)];
  const still = await referencedAmong(q, unique);
  return unique.filter((e) => !still.has(e));
}

async function one<R extends object>(q: Queryable, sql: string, params: readonly unknown[]): Promise<R | undefined> {
  return (await q.query<R>(sql, params))[0];
}

const containerEtag = (q: Queryable, account: string, name: string) => one<{ etag: string }>(q, SQL.containerEtag, [account, name]);
const blobRow = (q: Queryable, account: string, container: string, name: string) => one<BlobRow>(q, SQL.getBlob, [account, container, name]);

/**
 * `UPDATE table SET <columns> WHERE <key> [AND etag = expected] RETURNING *`, and its parameters. One
 * statement is a compare-and-set on its own: a concurrent change to the row makes PostgreSQL check the
 * WHERE again on the row as changed (READ COMMITTED) or abort it (SERIALIZABLE), so it never overwrites
 * a write that came between.
 */
function conditionalUpdate(table: string, columns: Record<string, unknown>, key: Record<string, unknown>, expect: Expect): [string, unknown[]] {
  const params: unknown[] = [];
  const bind = (value: unknown) => `$${params.push(value)}`;
  const sets = Object.entries(columns).map(([column, value]) => `${column} = ${bind(value)}`);
  const where = Object.entries(key).map(([column, value]) => `${column} = ${bind(value)}`);
  // 'absent' is a commit's expectation: an update, which needs its row, never meets it.
  if (expect === 'absent') where.push('FALSE');
  else if (expect !== 'any') where.push(`etag = ${bind(expect.etag)}`);
  return [`UPDATE ${table} SET ${sets.join(', ')} WHERE ${where.join(' AND ')} RETURNING *`, params];
}

/**
 * The Blob service's metadata in PostgreSQL (src/persistence/postgres/blobSchema.ts), shared by every
 * Kiln server on the database. A change that reads before it writes is one SERIALIZABLE transaction
 * (database.ts, run again on a serialization failure), so its checks and its change happen as if no
 * other server's transaction ran meanwhile; a change that is a single statement runs alone.
 */
export class PostgresBlobStore implements BlobMetadataStore {
  constructor(private readonly db: PostgresDatabase) {}

  /** PostgreSQL commits are on the disk when COMMIT returns (synchronous_commit on, its default): nothing is left to wait for. */
  durable(): Promise<void> {
    return Promise.resolve();
  }

  async isExtentReferenced(extent: string): Promise<boolean> {
    return (await referencedAmong(this.db, [extent])).size > 0;
  }

  async getContainer(account: string, name: string): Promise<Container | undefined> {
    const row = await one<ContainerRow>(this.db, SQL.getContainer, [account, name]);
    return row && toContainer(row);
  }

  async createContainer(c: Container): Promise<boolean> {
    const params = [c.account, c.name, c.etag, c.created, c.lastModified, JSON.stringify(c.metadata), c.publicAccess ?? null, JSON.stringify(c.accessPolicies)];
    return (await this.db.execute(SQL.insertContainer, params)) === 1;
  }

  deleteContainer(account: string, name: string, expect: Expect): Promise<{ deleted: boolean; freed: string[] }> {
    return this.db.transaction(async (tx) => {
      const current = await containerEtag(tx, account, name);
      if (!meets(current, expect)) throw new WriteConflict(`container ${name}`);
      if (!current) return { deleted: false, freed: [] };
      const extents = extentsOf(await tx.query<ExtentRow>(SQL.containerExtents, [account, name]));
      await tx.execute(SQL.deleteContainer, [account, name]);
      return { deleted: true, freed: await unreferenced(tx, extents) };
    });
  }

  async updateContainer(account: string, name: string, changes: ContainerChanges, expect: Expect): Promise<Container> {
    const [sql, params] = conditionalUpdate('containers', containerChangeColumns(changes), { account, name }, expect);
    const row = await one<ContainerRow>(this.db, sql, params);
    if (!row) throw new WriteConflict(`container ${name}`);
    return toContainer(row);
  }

  async listContainers(account: string, prefix: string, marker: string, limit: number): Promise<ListPage<Container>> {
    const rows = await this.db.query<ContainerRow>(SQL.listContainers, [account, prefix, marker, pastPrefix(prefix), limit + 1]);
    const more = rows.length > limit ? rows.pop() : undefined;
    return { items: rows.map(toContainer), nextMarker: more?.name };
  }

  async getBlob(account: string, container: string, name: string): Promise<Blob | undefined> {
    const row = await blobRow(this.db, account, container, name);
    return row && toBlob(row);
  }

  getBlobContent(account: string, container: string, name: string): Promise<BlobContent | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await blobRow(tx, account, container, name);
      return row && { blob: toBlob(row), segments: await tx.query<StoredSegment>(SQL.getSegments, [row.id]) };
    });
  }

  /** Throws WriteConflict unless everything the commit read is still so (CommitGuard). */
  private async checkGuard(tx: Queryable, b: NewBlob, old: BlobRow | undefined, guard: CommitGuard): Promise<void> {
    if (!(await containerEtag(tx, b.account, b.container))) throw new WriteConflict(`container ${b.container}`);
    if (!meets(old, guard.expect)) throw new WriteConflict(`blob ${b.name}`);
    if (guard.staged && !stagedUnchanged(guard.staged, await tx.query<UncommittedBlock>(SQL.listUncommitted, [b.account, b.container, b.name]))) {
      throw new WriteConflict(`the blocks staged for ${b.name}`);
    }
    const shared = [...new Set(guard.shared)];
    if ((await referencedAmong(tx, shared)).size !== shared.length) throw new WriteConflict(`the source of ${b.name}`);
  }

  commitBlob(b: NewBlob, guard: CommitGuard): Promise<{ blob: Blob; freed: string[] }> {
    return this.db.transaction(async (tx) => {
      const old = await blobRow(tx, b.account, b.container, b.name);
      await this.checkGuard(tx, b, old, guard);
      const dropped = extentsOf(await tx.query<ExtentRow>(SQL.dropBlob, [b.account, b.container, b.name, old?.id ?? null]));
      const seg = b.segments;
      const row = (await one<BlobRow>(tx, SQL.insertBlob, [
        b.account,
        b.container,
        b.name,
        seg.reduce((sum, s) => sum + s.length, 0),
        b.etag,
        old?.created ?? b.now,
        b.now,
        b.contentType ?? null,
        b.contentEncoding ?? null,
        b.contentLanguage ?? null,
        b.contentDisposition ?? null,
        b.cacheControl ?? null,
        b.contentMd5 ?? null,
        JSON.stringify(b.metadata),
        b.copy ? JSON.stringify(b.copy) : null,
        seg.map((s) => s.extent),
        seg.map((s) => s.data ?? null),
        seg.map((s) => s.offset),
        seg.map((s) => s.length),
        seg.map((s) => s.blockId),
      ]))!;
      return { blob: toBlob(row), freed: await unreferenced(tx, dropped) };
    });
  }

  async updateBlob(account: string, container: string, name: string, changes: BlobChanges, expect: Expect): Promise<Blob> {
    const [sql, params] = conditionalUpdate('blobs', blobChangeColumns(changes), { account, container, name }, expect);
    const row = await one<BlobRow>(this.db, sql, params);
    if (!row) throw new WriteConflict(`blob ${name}`);
    return toBlob(row);
  }

  deleteBlob(account: string, container: string, name: string, expect: Expect): Promise<{ deleted: boolean; freed: string[] }> {
    return this.db.transaction(async (tx) => {
      const old = await blobRow(tx, account, container, name);
      if (!meets(old, expect)) throw new WriteConflict(`blob ${name}`);
      const dropped = extentsOf(await tx.query<ExtentRow>(SQL.dropBlob, [account, container, name, old?.id ?? null]));
      return { deleted: old !== undefined, freed: await unreferenced(tx, dropped) };
    });
  }

  /** One transaction, so that a page is one snapshot of the container however many reads its prefixes take. */
  listBlobs(account: string, container: string, opts: BlobListing): Promise<ListPage<BlobListItem>> {
    return this.db.transaction((tx) => {
      const read = (from: string, batch: number) => tx.query<BlobRow>(SQL.listBlobs, [account, container, opts.prefix, from, pastPrefix(opts.prefix), batch]);
      return listBlobPage(opts, read, toBlob);
    });
  }

  putUncommittedBlock(account: string, container: string, blob: string, block: UncommittedBlock, now: number): Promise<{ freed: string[] }> {
    return this.db.transaction(async (tx) => {
      if (!(await containerEtag(tx, account, container))) throw new WriteConflict(`container ${container}`);
      const old = await tx.query<ExtentRow>(SQL.stageBlock, [account, container, blob, block.blockId, block.extent, block.length, now]);
      return { freed: await unreferenced(tx, extentsOf(old)) };
    });
  }

  getUncommittedBlocks(account: string, container: string, blob: string): Promise<UncommittedBlock[]> {
    return this.db.query<UncommittedBlock>(SQL.listUncommitted, [account, container, blob]);
  }

  expireUncommittedBlocks(before: number): Promise<{ freed: string[] }> {
    return this.db.transaction(async (tx) => ({ freed: await unreferenced(tx, extentsOf(await tx.query<ExtentRow>(SQL.expire, [before]))) }));
  }
}
