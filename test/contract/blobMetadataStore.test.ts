import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Container } from '../../src/domain/blob/models.js';
import { WriteConflict, type BlobMetadataStore, type CommitGuard, type NewBlob, type StoredSegment } from '../../src/domain/blob/store.js';
import { blobStoreFactories, type OpenedBlobStore } from './blobStores.js';

// The contract of the Blob metadata port (src/domain/blob/store.ts), on every store implementation.
// Each test works in containers of its own, so the tests share one store per implementation.

const ACCOUNT = 'acct';
const newExtent = (): string => randomBytes(16).toString('hex');
let clock = Date.UTC(2030, 0, 1);
const tick = (): number => (clock += 1000);
let etags = 0;
const etag = (): string => `"0x8D${(++etags).toString(16).padStart(12, '0')}"`;
let names = 0;
const unique = (prefix: string): string => `${prefix}-${++names}`;

const container = (name: string, account = ACCOUNT): Container => {
  const now = tick();
  return { account, name, etag: etag(), created: now, lastModified: now, metadata: { Owner: 'me' }, publicAccess: undefined, accessPolicies: [] };
};

const extentSegment = (length: number, blockId: string | null = null, extent = newExtent()): StoredSegment => ({ extent, offset: 0, length, blockId });

function newBlob(containerName: string, name: string, segments: StoredSegment[], extra: Partial<NewBlob> = {}): NewBlob {
  return { account: ACCOUNT, container: containerName, name, etag: etag(), now: tick(), metadata: {}, contentType: 'text/plain', segments, ...extra };
}

const conflict = WriteConflict;
const isConflict = (err: unknown): boolean => err instanceof WriteConflict;

for (const factory of blobStoreFactories) {
  describe(`BlobMetadataStore contract: ${factory.name}`, () => {
    let opened: OpenedBlobStore;
    let store: BlobMetadataStore;
    before(async () => {
      opened = await factory.open();
      store = opened.store;
    });
    after(() => opened.close());

    const withContainer = async (prefix: string): Promise<string> => {
      const name = unique(prefix);
      assert.equal(await store.createContainer(container(name)), true);
      return name;
    };
    const commit = (c: string, name: string, segments: StoredSegment[], guard: CommitGuard = { expect: 'any' }, extra: Partial<NewBlob> = {}) =>
      store.commitBlob(newBlob(c, name, segments, extra), guard);

    it('creates a container once, reads it back whole, and lists containers by prefix, page by page', async () => {
      const first = container(unique('list'));
      assert.equal(await store.createContainer(first), true);
      assert.equal(await store.createContainer({ ...first, etag: etag() }), false, 'a second create of the same name is refused');
      assert.deepEqual(await store.getContainer(ACCOUNT, first.name), first);
      assert.equal(await store.getContainer(ACCOUNT, 'never-made'), undefined);
      assert.equal(await store.getContainer('other-account', first.name), undefined, 'containers belong to their account');

      const prefix = unique('page');
      const made = ['c', 'a', 'd', 'b', 'e'].map((s) => `${prefix}-${s}`);
      for (const name of made) await store.createContainer(container(name));
      await store.createContainer(container(`${prefix}-z`, 'other-account'));
      const seen: string[] = [];
      let marker = '';
      let pages = 0;
      for (;;) {
        const page = await store.listContainers(ACCOUNT, prefix, marker, 2);
        pages++;
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((c) => c.name));
        if (page.nextMarker === undefined) break;
        marker = page.nextMarker;
      }
      assert.deepEqual(seen, [...made].sort());
      assert.equal(pages, 3);
      const all = await store.listContainers(ACCOUNT, prefix, '', 5);
      assert.equal(all.nextMarker, undefined, 'a page that holds the rest exactly has no next marker');
      assert.deepEqual(
        (await store.listContainers(ACCOUNT, prefix, `${prefix}-c`, 10)).items.map((c) => c.name),
        [`${prefix}-c`, `${prefix}-d`, `${prefix}-e`],
      );
    });

    it('updates a container only while it is as the write expects', async () => {
      const name = await withContainer('update');
      const before = (await store.getContainer(ACCOUNT, name))!;
      const policies = [{ id: 'p1', permission: 'r', expiry: '2031-01-01T00:00:00Z' }];
      const changed = await store.updateContainer(ACCOUNT, name, { etag: etag(), lastModified: tick(), publicAccess: 'blob', accessPolicies: policies }, { etag: before.etag });
      assert.equal(changed.publicAccess, 'blob');
      assert.deepEqual(changed.accessPolicies, policies);
      assert.deepEqual(changed.metadata, before.metadata, 'what the change does not name stays');
      assert.notEqual(changed.etag, before.etag);
      assert.deepEqual(await store.getContainer(ACCOUNT, name), changed);

      await assert.rejects(store.updateContainer(ACCOUNT, name, { etag: etag(), lastModified: tick(), metadata: { Stale: '1' } }, { etag: before.etag }), conflict);
      assert.deepEqual(await store.getContainer(ACCOUNT, name), changed, 'a refused change changes nothing');

      const cleared = await store.updateContainer(ACCOUNT, name, { etag: etag(), lastModified: tick(), metadata: { New: 'v' }, publicAccess: null }, 'any');
      assert.equal(cleared.publicAccess, undefined);
      assert.deepEqual(cleared.metadata, { New: 'v' });
      await assert.rejects(store.updateContainer(ACCOUNT, unique('missing'), { etag: etag(), lastModified: tick() }, 'any'), conflict);
    });

    it('deletes a container with its blobs and staged blocks, freeing the extents nothing else uses', async () => {
      const name = await withContainer('delete');
      const keeper = await withContainer('keeper');
      const own = extentSegment(10);
      const sharedExtent = newExtent();
      await commit(name, 'a', [own, extentSegment(5, null, sharedExtent)]);
      await commit(keeper, 'copy', [extentSegment(5, null, sharedExtent)]);
      const staged = newExtent();
      await store.putUncommittedBlock(ACCOUNT, name, 'b', { blockId: 'QUFB', extent: staged, length: 3 }, tick());

      const current = (await store.getContainer(ACCOUNT, name))!;
      await assert.rejects(store.deleteContainer(ACCOUNT, name, { etag: etag() }), conflict);
      assert.ok(await store.getContainer(ACCOUNT, name), 'a refused delete deletes nothing');
      const { deleted, freed } = await store.deleteContainer(ACCOUNT, name, { etag: current.etag });
      assert.equal(deleted, true);
      assert.deepEqual([...freed].sort(), [own.extent!, staged].sort());
      assert.equal(await store.getContainer(ACCOUNT, name), undefined);
      assert.equal(await store.getBlob(ACCOUNT, name, 'a'), undefined);
      assert.deepEqual(await store.getUncommittedBlocks(ACCOUNT, name, 'b'), []);
      assert.equal(await store.isExtentReferenced(sharedExtent), true);
      assert.deepEqual(await store.deleteContainer(ACCOUNT, name, 'any'), { deleted: false, freed: [] });
      await assert.rejects(store.deleteContainer(ACCOUNT, name, { etag: current.etag }), conflict);
    });

    it('commits a blob of extents and inline bytes, replaces it and frees what the old one alone used', async () => {
      const c = await withContainer('commit');
      const inline: StoredSegment = { extent: null, data: Buffer.from('hello'), offset: 0, length: 5, blockId: null };
      const kept = extentSegment(100, 'QUFB');
      const dropped = extentSegment(50, 'QkJC');
      const first = await commit(c, 'blob', [inline, kept, dropped], { expect: 'absent' }, { metadata: { K: 'v' }, contentMd5: 'md5==' });
      assert.deepEqual(first.freed, []);
      assert.equal(first.blob.size, 155);
      assert.deepEqual(first.blob.metadata, { K: 'v' });
      assert.equal(first.blob.contentMd5, 'md5==');
      assert.deepEqual(await store.getBlob(ACCOUNT, c, 'blob'), first.blob);
      const content = (await store.getBlobContent(ACCOUNT, c, 'blob'))!;
      assert.deepEqual(content.blob, first.blob);
      assert.deepEqual(
        content.segments.map((s) => ({ ...s, data: s.data ? Buffer.from(s.data).toString() : null })),
        [
          { extent: null, data: 'hello', offset: 0, length: 5, blockId: null },
          { ...kept, data: null },
          { ...dropped, data: null },
        ],
      );
      assert.equal(await store.getBlobContent(ACCOUNT, c, 'nothing'), undefined);
      assert.equal(await store.isExtentReferenced(dropped.extent!), true);

      const replaced = await commit(c, 'blob', [{ ...kept, offset: 10, length: 20 }], { expect: { etag: first.blob.etag } });
      assert.deepEqual(replaced.freed, [dropped.extent], 'the extent only the old content used is freed; the one kept is not');
      assert.equal(replaced.blob.created, first.blob.created, 'a replaced blob keeps its creation time');
      assert.ok(replaced.blob.lastModified > first.blob.lastModified);
      assert.equal(replaced.blob.size, 20);
      assert.equal(await store.isExtentReferenced(dropped.extent!), false);
      assert.equal(await store.isExtentReferenced(kept.extent!), true);
      assert.equal(await store.isExtentReferenced(newExtent()), false);
    });

    it('refuses a conditional commit whose expectation no longer holds, changing nothing, and applies the one that holds', async () => {
      const c = await withContainer('conditional');
      const original = await commit(c, 'blob', [extentSegment(1)], { expect: 'absent' });
      const attempt = extentSegment(2);
      await assert.rejects(commit(c, 'blob', [attempt], { expect: 'absent' }), conflict);
      await assert.rejects(commit(c, 'blob', [attempt], { expect: { etag: etag() } }), conflict);
      await assert.rejects(commit(c, 'missing', [attempt], { expect: { etag: original.blob.etag } }), conflict, 'an etag expected where no blob is');
      assert.deepEqual(await store.getBlob(ACCOUNT, c, 'blob'), original.blob);
      assert.equal(await store.isExtentReferenced(attempt.extent!), false);
      await assert.rejects(commit(unique('no-container'), 'blob', [attempt]), conflict, 'a commit into a container that is gone');

      const applied = await commit(c, 'blob', [attempt], { expect: { etag: original.blob.etag } });
      assert.equal(applied.blob.size, 2);
      const unconditional = await commit(c, 'blob', [extentSegment(3)], { expect: 'any' });
      assert.equal(unconditional.blob.size, 3);
    });

    it('lets exactly one of two racing commits that expect the same version win, also from two handles', async () => {
      const c = await withContainer('race');
      const base = await commit(c, 'blob', [extentSegment(1)]);
      for (const [label, expect] of [
        ['the same etag', { etag: base.blob.etag }],
        ['no blob yet', 'absent'],
      ] as const) {
        const name = expect === 'absent' ? unique('fresh') : 'blob';
        const results = await Promise.allSettled([
          store.commitBlob(newBlob(c, name, [extentSegment(10)]), { expect }),
          opened.peer.commitBlob(newBlob(c, name, [extentSegment(20)]), { expect }),
        ]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        assert.equal(won.length, 1, `one commit expecting ${label} wins`);
        assert.equal(lost.length, 1);
        assert.ok(isConflict(lost[0]!.reason), `the other is told it conflicted: ${String(lost[0]!.reason)}`);
        const winner = (won[0] as PromiseFulfilledResult<{ blob: { size: number; etag: string } }>).value.blob;
        const stored = (await opened.peer.getBlob(ACCOUNT, c, name))!;
        assert.equal(stored.etag, winner.etag, "the stored blob is the winner's");
        assert.equal(stored.size, winner.size);
      }
    });

    it("checks a block list's staged blocks and a copy's shared extents inside the commit", async () => {
      const c = await withContainer('guards');
      const put = (blockId: string, extent = newExtent()) => store.putUncommittedBlock(ACCOUNT, c, 'blob', { blockId, extent, length: 4 }, tick());
      await put('QUFB');
      await put('QkJC');
      const staged = await store.getUncommittedBlocks(ACCOUNT, c, 'blob');
      const segments = staged.map((b) => extentSegment(b.length, b.blockId, b.extent));

      await put('QkJC'); // staged again: another extent under the same id
      await assert.rejects(commit(c, 'blob', segments, { expect: 'any', staged }), conflict, 'a block staged again since it was read');
      const restaged = await store.getUncommittedBlocks(ACCOUNT, c, 'blob');
      await put('Q0ND');
      await assert.rejects(commit(c, 'blob', segments, { expect: 'any', staged: restaged }), conflict, 'a block staged since the list was read');
      const now = await store.getUncommittedBlocks(ACCOUNT, c, 'blob');
      const taken = now.filter((b) => b.blockId !== 'Q0ND').map((b) => extentSegment(b.length, b.blockId, b.extent));
      const { blob, freed } = await commit(c, 'blob', taken, { expect: 'absent', staged: now });
      assert.equal(blob.size, 8);
      assert.deepEqual(freed, [now.find((b) => b.blockId === 'Q0ND')!.extent], 'the staged block left out is freed');
      assert.deepEqual(await store.getUncommittedBlocks(ACCOUNT, c, 'blob'), [], 'a commit discards every staged block');

      // A copy shares its source's extents: only while they are still referenced.
      const source = (await store.getBlobContent(ACCOUNT, c, 'blob'))!;
      const shared = source.segments.map((s) => s.extent!);
      const copy = await commit(c, 'copy', source.segments, { expect: 'any', shared });
      assert.deepEqual(copy.freed, []);
      assert.deepEqual((await store.deleteBlob(ACCOUNT, c, 'blob', 'any')).freed, [], "the source's extents stay while the copy uses them");
      const gone = await store.deleteBlob(ACCOUNT, c, 'copy', 'any');
      assert.deepEqual([...gone.freed].sort(), [...shared].sort());
      await assert.rejects(commit(c, 'late-copy', source.segments, { expect: 'any', shared }), conflict, 'extents nothing refers to any more');
      assert.equal(await store.getBlob(ACCOUNT, c, 'late-copy'), undefined);
    });

    it('updates a blob: content properties all at once, metadata alone, only while it is as expected', async () => {
      const c = await withContainer('props');
      const { blob } = await commit(c, 'blob', [extentSegment(1)], { expect: 'any' }, { contentEncoding: 'gzip', cacheControl: 'no-cache', metadata: { A: '1' } });
      const props = await store.updateBlob(ACCOUNT, c, 'blob', { etag: etag(), lastModified: tick(), contentType: 'image/png', contentMd5: undefined }, { etag: blob.etag });
      assert.equal(props.contentType, 'image/png');
      assert.equal(props.contentEncoding, undefined, 'content properties not given become empty');
      assert.equal(props.cacheControl, undefined);
      assert.deepEqual(props.metadata, { A: '1' });
      assert.equal(props.size, 1);
      assert.equal(props.created, blob.created);
      const meta = await store.updateBlob(ACCOUNT, c, 'blob', { etag: etag(), lastModified: tick(), metadata: { B: '2' } }, 'any');
      assert.deepEqual(meta.metadata, { B: '2' });
      assert.equal(meta.contentType, 'image/png', 'a metadata change keeps the content properties');
      assert.deepEqual(await store.getBlob(ACCOUNT, c, 'blob'), meta);
      await assert.rejects(store.updateBlob(ACCOUNT, c, 'blob', { etag: etag(), lastModified: tick(), metadata: {} }, { etag: blob.etag }), conflict);
      await assert.rejects(store.updateBlob(ACCOUNT, c, 'missing', { etag: etag(), lastModified: tick(), metadata: {} }, 'any'), conflict);
      assert.deepEqual(await store.getBlob(ACCOUNT, c, 'blob'), meta, 'a refused update changes nothing');
    });

    it('deletes a blob with its staged blocks, only while it is as expected, freeing what it alone used', async () => {
      const c = await withContainer('delete-blob');
      const seg = extentSegment(7);
      const { blob } = await commit(c, 'blob', [seg]);
      const staged = newExtent();
      await store.putUncommittedBlock(ACCOUNT, c, 'blob', { blockId: 'QUFB', extent: staged, length: 1 }, tick());
      await assert.rejects(store.deleteBlob(ACCOUNT, c, 'blob', { etag: etag() }), conflict);
      assert.ok(await store.getBlob(ACCOUNT, c, 'blob'));
      const result = await store.deleteBlob(ACCOUNT, c, 'blob', { etag: blob.etag });
      assert.equal(result.deleted, true);
      assert.deepEqual([...result.freed].sort(), [seg.extent!, staged].sort());
      assert.equal(await store.getBlob(ACCOUNT, c, 'blob'), undefined);

      const orphan = newExtent();
      await store.putUncommittedBlock(ACCOUNT, c, 'never-committed', { blockId: 'QUFB', extent: orphan, length: 1 }, tick());
      assert.deepEqual(await store.deleteBlob(ACCOUNT, c, 'never-committed', 'any'), { deleted: false, freed: [orphan] }, 'no blob, but its staged blocks go');
      await assert.rejects(store.deleteBlob(ACCOUNT, c, 'never-committed', { etag: blob.etag }), conflict);
    });

    it('stages blocks: in order of staging, replaced under the same id, refused in a container that is gone, expired by age', async () => {
      const c = await withContainer('stage');
      const first = newExtent();
      const t0 = tick();
      assert.deepEqual((await store.putUncommittedBlock(ACCOUNT, c, 'blob', { blockId: 'QkJC', extent: first, length: 3 }, t0)).freed, []);
      await store.putUncommittedBlock(ACCOUNT, c, 'blob', { blockId: 'QUFB', extent: newExtent(), length: 4 }, t0);
      const later = newExtent();
      await store.putUncommittedBlock(ACCOUNT, c, 'blob', { blockId: 'Q0ND', extent: later, length: 5 }, tick());
      assert.deepEqual(
        (await store.getUncommittedBlocks(ACCOUNT, c, 'blob')).map((b) => b.blockId),
        ['QUFB', 'QkJC', 'Q0ND'],
        'by staging time, then id',
      );
      assert.equal(await store.isExtentReferenced(first), true);
      const second = newExtent();
      assert.deepEqual((await store.putUncommittedBlock(ACCOUNT, c, 'blob', { blockId: 'QkJC', extent: second, length: 6 }, t0)).freed, [first]);
      assert.equal((await store.getUncommittedBlocks(ACCOUNT, c, 'blob')).find((b) => b.blockId === 'QkJC')!.extent, second);
      assert.deepEqual(await store.getUncommittedBlocks(ACCOUNT, c, 'other'), []);
      await assert.rejects(store.putUncommittedBlock(ACCOUNT, unique('gone'), 'blob', { blockId: 'QUFB', extent: newExtent(), length: 1 }, tick()), conflict);

      const expired = await store.expireUncommittedBlocks(t0 + 1);
      assert.ok(expired.freed.includes(second), 'blocks staged before the cut-off go');
      assert.ok(!expired.freed.includes(later));
      assert.deepEqual(
        (await store.getUncommittedBlocks(ACCOUNT, c, 'blob')).map((b) => b.extent),
        [later],
      );
    });

    it('lists blobs by prefix and delimiter, page by page from a marker', async () => {
      const c = await withContainer('listing');
      const names = ['a.txt', 'dir/one', 'dir/sub/two', 'dir/three', 'dirt', 'e/x', 'e/y', 'z'];
      for (const name of names) await commit(c, name, [extentSegment(1)]);
      const render = (items: { kind: string; name?: string; blob?: { name: string } }[]) => items.map((i) => (i.kind === 'prefix' ? `${i.name}*` : i.blob!.name));
      const list = (opts: { prefix?: string; delimiter?: string; marker?: string; limit?: number }) =>
        store.listBlobs(ACCOUNT, c, { prefix: opts.prefix ?? '', delimiter: opts.delimiter ?? '', marker: opts.marker ?? '', limit: opts.limit ?? 5000 });

      assert.deepEqual(render((await list({})).items), [...names].sort());
      assert.deepEqual(render((await list({ delimiter: '/' })).items), ['a.txt', 'dir/*', 'dirt', 'e/*', 'z']);
      assert.deepEqual(render((await list({ prefix: 'dir/', delimiter: '/' })).items), ['dir/one', 'dir/sub/*', 'dir/three']);
      assert.deepEqual(render((await list({ prefix: 'dir' })).items), ['dir/one', 'dir/sub/two', 'dir/three', 'dirt']);
      const full = (await list({ prefix: 'dir/' })).items[0];
      assert.ok(full?.kind === 'blob' && full.blob.size === 1 && full.blob.container === c, 'blob entries carry the whole blob');

      const pages: string[][] = [];
      let marker = '';
      for (;;) {
        const page = await list({ delimiter: '/', marker, limit: 2 });
        pages.push(render(page.items));
        if (page.nextMarker === undefined) break;
        marker = page.nextMarker;
      }
      assert.deepEqual(pages, [['a.txt', 'dir/*'], ['dirt', 'e/*'], ['z']], 'a prefix entry counts as one, and the next page starts past it');
      assert.deepEqual(render((await list({ marker: 'dirt' })).items), ['dirt', 'e/x', 'e/y', 'z'], 'the marker is the first name of the page');
      assert.deepEqual((await list({ prefix: 'nothing' })).items, []);
      assert.deepEqual((await store.listBlobs(ACCOUNT, unique('empty'), { prefix: '', delimiter: '', marker: '', limit: 10 })).items, []);
    });

    it('durable() resolves for every caller once the changes before it are committed, and another handle sees them', async () => {
      const c = await withContainer('durable');
      const writes = Array.from({ length: 8 }, (_, i) => commit(c, `b${i}`, [extentSegment(i + 1)]));
      await Promise.all(writes);
      await Promise.all(Array.from({ length: 8 }, () => store.durable()));
      await opened.peer.durable();
      const page = await opened.peer.listBlobs(ACCOUNT, c, { prefix: '', delimiter: '', marker: '', limit: 100 });
      assert.equal(page.items.length, 8);
    });
  });
}
