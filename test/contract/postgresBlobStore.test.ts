// The PostgreSQL Blob metadata store beyond the port's contract (test/contract/blobMetadataStore.test.ts
// runs that on it too): two Kiln servers' handles on one database writing at once, byte order of names
// under a database whose default collation is not byte order, and large block lists.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Container } from '../../src/domain/blob/models.js';
import { WriteConflict, type NewBlob, type StoredSegment } from '../../src/domain/blob/store.js';
import { PostgresBlobStore } from '../../src/persistence/postgres/blobStore.js';
import { openPostgres, type PostgresDatabase } from '../../src/persistence/postgres/database.js';
import { postgresMigrations } from '../../src/persistence/postgres/schema.js';
import { freshDatabase, startPostgres, type PostgresServer } from '../helpers/postgres.js';

const ACCOUNT = 'acct';
const ROUNDS = 10;
let counter = 0;
const next = (): number => ++counter;
const etag = (): string => `"0x${next().toString(16).padStart(14, '0')}"`;
const extent = (): string => randomBytes(16).toString('hex');
const onExtent = (e: string, length = 1): StoredSegment => ({ extent: e, offset: 0, length, blockId: null });
const container = (name: string): Container => ({
  account: ACCOUNT,
  name,
  etag: etag(),
  created: next(),
  lastModified: next(),
  metadata: {},
  publicAccess: undefined,
  accessPolicies: [],
});
const blob = (c: string, name: string, segments: StoredSegment[]): NewBlob => ({ account: ACCOUNT, container: c, name, etag: etag(), now: next(), metadata: {}, segments });
const isConflict = (r: PromiseSettledResult<unknown>): boolean => r.status === 'rejected' && r.reason instanceof WriteConflict;
const byteOrder = (names: string[]): string[] => [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

describe('PostgreSQL Blob metadata store: two servers on one database', () => {
  let server: PostgresServer;
  let dbs: PostgresDatabase[];
  /** Two servers' stores, each on a pool of its own. */
  let one: PostgresBlobStore;
  let two: PostgresBlobStore;
  let newContainer: () => Promise<string>;

  before(async () => {
    server = await startPostgres();
    const url = await freshDatabase(server.url);
    dbs = [await openPostgres(url, postgresMigrations), await openPostgres(url, postgresMigrations)];
    [one, two] = dbs.map((db) => new PostgresBlobStore(db)) as [PostgresBlobStore, PostgresBlobStore];
    newContainer = async () => {
      const name = `c-${next()}`;
      assert.equal(await one.createContainer(container(name)), true);
      return name;
    };
  });
  after(async () => {
    await Promise.all(dbs.map((db) => db.close()));
    await server.stop();
  });

  it('frees an extent two blobs share exactly once when two servers drop them at the same time', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const c = await newContainer();
      const shared = extent();
      await one.commitBlob(blob(c, 'a', [onExtent(shared)]), { expect: 'absent' });
      await one.commitBlob(blob(c, 'b', [onExtent(shared)]), { expect: 'absent' });
      // Each sees the other's reference when it starts: unless one runs after the other, neither frees it.
      const [deleted, replaced] = await Promise.all([one.deleteBlob(ACCOUNT, c, 'a', 'any'), two.commitBlob(blob(c, 'b', [onExtent(extent())]), { expect: 'any' })]);
      const freed = [...deleted.freed, ...replaced.freed];
      assert.deepEqual(freed, [shared], `round ${round}: freed once, by whichever ran second`);
      assert.equal(await two.isExtentReferenced(shared), false);
    }
  });

  it('lets exactly one of a conditional update and a conditional replace of the same blob win', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const c = await newContainer();
      const { blob: base } = await one.commitBlob(blob(c, 'x', [onExtent(extent())]), { expect: 'absent' });
      const [updated, replaced] = await Promise.allSettled([
        one.updateBlob(ACCOUNT, c, 'x', { etag: etag(), lastModified: next(), metadata: { Round: String(round) } }, { etag: base.etag }),
        two.commitBlob(blob(c, 'x', [onExtent(extent(), 2)]), { expect: { etag: base.etag } }),
      ]);
      const results = [updated, replaced];
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}: one wins`);
      assert.ok(results.some(isConflict), `round ${round}: the other conflicts: ${results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok')).join(', ')}`);
      const stored = (await two.getBlob(ACCOUNT, c, 'x'))!;
      const winner = updated.status === 'fulfilled' ? updated.value : replaced.status === 'fulfilled' ? replaced.value.blob : undefined;
      assert.equal(stored.etag, winner?.etag, "the stored blob is the winner's");
    }
  });

  it('stages a block in a container another server deletes: either staged and freed with it, or refused; nothing left', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const c = await newContainer();
      const staged = extent();
      const [put, removed] = await Promise.allSettled([
        one.putUncommittedBlock(ACCOUNT, c, 'b', { blockId: 'QUFB', extent: staged, length: 1 }, next()),
        two.deleteContainer(ACCOUNT, c, 'any'),
      ]);
      assert.equal(removed.status, 'fulfilled', String((removed as PromiseRejectedResult).reason));
      const freed = (removed as PromiseFulfilledResult<{ freed: string[] }>).value.freed;
      if (put.status === 'fulfilled') assert.deepEqual(freed, [staged], `round ${round}: staged first, so the delete frees it`);
      else assert.ok(isConflict(put) && freed.length === 0, `round ${round}: refused once the container is gone: ${String(put.reason)}`);
      assert.equal(await one.isExtentReferenced(staged), false);
      assert.deepEqual(await two.getUncommittedBlocks(ACCOUNT, c, 'b'), []);
    }
  });

  it('runs unconditional writes of one blob from two servers all through, retrying the collisions', async () => {
    const c = await newContainer();
    const writes = Array.from({ length: 8 }, (_, i) => (i % 2 ? one : two).commitBlob(blob(c, 'hot', [onExtent(extent(), i + 1)]), { expect: 'any' }));
    const results = await Promise.all(writes);
    const stored = (await one.getBlob(ACCOUNT, c, 'hot'))!;
    assert.ok(
      results.some((r) => r.blob.etag === stored.etag),
      'the stored blob is one of the writes',
    );
    const freed = results.flatMap((r) => r.freed);
    assert.equal(freed.length, 7, 'every version but the last is freed, once');
    assert.equal(new Set(freed).size, 7);
  });

  it('lists containers and blobs in byte order of their UTF-8 names, whatever the database collation', async () => {
    const collation = await dbs[0]!.query<{ provider: string }>('SELECT datlocprovider AS provider FROM pg_database WHERE datname = current_database()');
    assert.equal(collation[0]?.provider, 'i', 'the test database orders text by an ICU locale unless told COLLATE "C"');
    const names = ['b', 'B', 'a_1', 'a01', 'a', 'é', 'e', '\u{FFFD}', '\u{1F600}', 'Z'];
    const tag = `order-${next()}-`;
    for (const name of names) await one.createContainer(container(tag + name));
    const listed = (await two.listContainers(ACCOUNT, tag, '', 100)).items.map((x) => x.name.slice(tag.length));
    assert.deepEqual(listed, byteOrder(names));

    const c = await newContainer();
    for (const name of names) await one.commitBlob(blob(c, name, [onExtent(extent())]), { expect: 'absent' });
    const pages: string[] = [];
    let marker = '';
    do {
      const page = await two.listBlobs(ACCOUNT, c, { prefix: '', delimiter: '', marker, limit: 3 });
      pages.push(...page.items.map((i) => (i.kind === 'blob' ? i.blob.name : i.name)));
      marker = page.nextMarker ?? '';
    } while (marker);
    assert.deepEqual(pages, byteOrder(names), 'page by page, each marker a name past the previous page');
  });

  it('commits a block list of thousands of segments, inline bytes and odd block ids included, and reads it back in order', async () => {
    const c = await newContainer();
    const odd = ['a"b', 'back\\slash', 'com,ma', '{brace}', 'NULL', ''];
    const segments: StoredSegment[] = Array.from({ length: 5000 }, (_, i) =>
      i % 7 === 0
        ? { extent: null, data: Buffer.from([0, 255, 92, 34, i & 255]), offset: 0, length: 5, blockId: odd[i % odd.length]! }
        : { extent: extent(), data: null, offset: i, length: 100 + i, blockId: i % 3 ? `id-${i}` : null },
    );
    const { blob: committed } = await one.commitBlob(blob(c, 'big', segments), { expect: 'absent' });
    assert.equal(
      committed.size,
      segments.reduce((sum, s) => sum + s.length, 0),
    );
    const content = (await two.getBlobContent(ACCOUNT, c, 'big'))!;
    assert.deepEqual(
      content.segments.map((s) => ({ ...s, data: s.data ? Buffer.from(s.data).toString('hex') : null })),
      segments.map((s) => ({ ...s, data: s.data ? s.data.toString('hex') : null })),
    );
    const { freed } = await two.deleteBlob(ACCOUNT, c, 'big', { etag: committed.etag });
    assert.deepEqual([...freed].sort(), segments.flatMap((s) => (s.extent ? [s.extent] : [])).sort());
  });
});
