import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobSASPermissions, BlockBlobClient, ContainerClient, ContainerSASPermissions, type BlobServiceClient } from '@azure/storage-blob';
import { countExtents, startKiln, tempDir, type KilnProcess } from '../helpers/kiln.js';

const md5File = async (file: string): Promise<string> => {
  const hash = createHash('md5');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
};

/** Writes `size` pseudo-random bytes without holding them in memory. */
async function writeRandomFile(file: string, size: number): Promise<void> {
  const out = fs.createWriteStream(file);
  const chunk = randomBytes(1 << 20);
  for (let written = 0; written < size; written += chunk.length) {
    chunk.writeUInt32LE(written, 0); // no two MiB alike, so a misplaced block is caught
    const piece = chunk.subarray(0, Math.min(chunk.length, size - written));
    if (!out.write(Buffer.from(piece))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

describe('blob round trips through @azure/storage-blob', () => {
  let kiln: KilnProcess;
  let service: BlobServiceClient;
  const work = tempDir('kiln-roundtrip-');

  before(async () => {
    kiln = await startKiln();
    service = kiln.blobService();
  });
  after(async () => {
    await kiln.stop();
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(kiln.dataDir, { recursive: true, force: true });
  });

  it('uploads and downloads a small file with equal content', async () => {
    const container = service.getContainerClient('small-files');
    assert.equal((await container.createIfNotExists()).succeeded, true);
    assert.equal((await container.createIfNotExists()).succeeded, false, 'second create is a no-op, as on Azure');
    const source = path.join(work, 'small.txt');
    fs.writeFileSync(source, 'the quick brown fox jumps over the lazy dog\n'.repeat(10));
    const blob = container.getBlockBlobClient('texts/small.txt');
    await blob.uploadFile(source);
    const target = path.join(work, 'small.out');
    await blob.downloadToFile(target);
    assert.equal(fs.readFileSync(target, 'utf8'), fs.readFileSync(source, 'utf8'));
    const props = await blob.getProperties();
    assert.equal(props.contentLength, fs.statSync(source).size);
    assert.equal(Buffer.from(props.contentMD5!).toString('hex'), await md5File(source), 'Put Blob computes Content-MD5');
    assert.equal(props.blobType, 'BlockBlob');
  });

  it('round-trips a 300 MiB file through the parallel block path', async () => {
    const container = service.getContainerClient('large-files');
    await container.create();
    const source = path.join(work, 'large.bin');
    await writeRandomFile(source, 300 * 1024 * 1024);
    const blob = container.getBlockBlobClient('large.bin');
    await blob.uploadFile(source, { blockSize: 8 * 1024 * 1024, concurrency: 4, maxSingleShotSize: 4 * 1024 * 1024 });
    const blocks = await blob.getBlockList('committed');
    assert.equal(blocks.committedBlocks?.length, 38, '300 MiB in 8 MiB blocks');
    const target = path.join(work, 'large.out');
    await blob.downloadToFile(target);
    assert.equal(fs.statSync(target).size, 300 * 1024 * 1024);
    assert.equal(await md5File(target), await md5File(source));
    fs.rmSync(source);
    fs.rmSync(target);
  });

  it('serves ranged and conditional reads', async () => {
    const container = service.getContainerClient('ranges');
    await container.create();
    const blob = container.getBlockBlobClient('digits');
    const { etag } = await blob.upload('0123456789', 10);
    const part = await blob.download(2, 5);
    assert.equal(part.contentRange, 'bytes 2-6/10');
    assert.equal(part.contentLength, 5);
    assert.equal(await streamText(part.readableStreamBody!), '23456');
    const tail = await blob.download(7);
    assert.equal(await streamText(tail.readableStreamBody!), '789');
    const clamped = await blob.download(5, 100);
    assert.equal(clamped.contentRange, 'bytes 5-9/10', 'an end past EOF is clamped');
    const matched = await blob.download(0, undefined, { conditions: { ifMatch: etag } });
    assert.equal(await streamText(matched.readableStreamBody!), '0123456789');
    const since = await blob.download(0, undefined, { conditions: { ifModifiedSince: new Date(Date.now() - 3600_000) } });
    assert.equal(since._response.status, 200);
    await assert.rejects(blob.download(0, undefined, { conditions: { ifMatch: '"0x1"' } }), { statusCode: 412, code: 'ConditionNotMet' });
    await assert.rejects(blob.download(10), { statusCode: 416, code: 'InvalidRange' });
  });

  it('lists with prefix, delimiter and paging over 5,000 blobs', async () => {
    const container = service.getContainerClient('many');
    await container.create();
    const names: string[] = [];
    for (let i = 0; i < 5200; i++) names.push(`logs/${String(i).padStart(5, '0')}.txt`);
    names.push('a/one.txt', 'a/two.txt', 'b/deep/x.txt', 'top.txt');
    await runConcurrently(names, 32, (name) => container.getBlockBlobClient(name).upload('x', 1));

    const flat: string[] = [];
    let pages = 0;
    for await (const page of container.listBlobsFlat().byPage({ maxPageSize: 5000 })) {
      pages++;
      for (const b of page.segment.blobItems) flat.push(b.name);
    }
    assert.equal(pages, 2);
    assert.deepEqual(flat, [...names].sort());

    const small: string[] = [];
    for await (const page of container.listBlobsFlat({ prefix: 'logs/0000' }).byPage({ maxPageSize: 3 })) {
      assert.ok(page.segment.blobItems.length <= 3);
      small.push(...page.segment.blobItems.map((b) => b.name));
    }
    assert.deepEqual(
      small,
      names.filter((n) => n.startsWith('logs/0000')),
    );

    const top: string[] = [];
    for await (const item of container.listBlobsByHierarchy('/')) top.push(`${item.kind}:${item.name}`);
    assert.deepEqual(top, ['prefix:a/', 'prefix:b/', 'prefix:logs/', 'blob:top.txt']);

    const paged: string[] = [];
    for await (const page of container.listBlobsByHierarchy('/').byPage({ maxPageSize: 2 })) {
      paged.push(...page.segment.blobPrefixes!.map((p) => p.name), ...page.segment.blobItems.map((b) => b.name));
    }
    assert.deepEqual(paged, ['a/', 'b/', 'logs/', 'top.txt']);

    const underA: string[] = [];
    for await (const item of container.listBlobsByHierarchy('/', { prefix: 'a/' })) underA.push(item.name);
    assert.deepEqual(underA, ['a/one.txt', 'a/two.txt']);
  });

  it('keeps metadata and properties', async () => {
    const container = service.getContainerClient('props');
    await container.create({ metadata: { Owner: 'kiln', purpose: 'tests' } });
    const cprops = await container.getProperties();
    assert.deepEqual(cprops.metadata, { owner: 'kiln', purpose: 'tests' });
    await container.setMetadata({ stage: 'two' });
    assert.deepEqual((await container.getProperties()).metadata, { stage: 'two' });

    const blob = container.getBlockBlobClient('doc.html');
    await blob.upload('<p>hi</p>', 9, {
      metadata: { Author: 'ada', n: '1' },
      blobHTTPHeaders: {
        blobContentType: 'text/html',
        blobContentLanguage: 'en',
        blobCacheControl: 'max-age=60',
        blobContentDisposition: 'inline',
        blobContentEncoding: 'identity',
      },
    });
    let props = await blob.getProperties();
    assert.equal(props.contentType, 'text/html');
    assert.equal(props.contentLanguage, 'en');
    assert.equal(props.cacheControl, 'max-age=60');
    assert.equal(props.contentDisposition, 'inline');
    assert.equal(props.contentEncoding, 'identity');
    assert.deepEqual(props.metadata, { author: 'ada', n: '1' });
    const before = props.etag;
    await blob.setMetadata({ reviewed: 'yes' });
    props = await blob.getProperties();
    assert.deepEqual(props.metadata, { reviewed: 'yes' });
    assert.notEqual(props.etag, before, 'a metadata write changes the ETag');
    await blob.setHTTPHeaders({ blobContentType: 'text/plain' });
    props = await blob.getProperties();
    assert.equal(props.contentType, 'text/plain');
    assert.equal(props.contentLanguage, undefined, 'Set Blob Properties replaces all content properties');

    const listed = [];
    for await (const b of container.listBlobsFlat({ includeMetadata: true })) listed.push(b);
    assert.equal(listed[0]?.properties.contentType, 'text/plain');
    assert.deepEqual(listed[0]?.metadata, { reviewed: 'yes' });

    const containers = [];
    for await (const c of service.listContainers({ prefix: 'prop', includeMetadata: true })) containers.push(c);
    assert.deepEqual(
      containers.map((c) => [c.name, c.metadata]),
      [['props', { stage: 'two' }]],
    );
  });

  it('stages and commits blocks, and keeps uncommitted ones apart', async () => {
    const container = service.getContainerClient('blocks');
    await container.create();
    const blob = container.getBlockBlobClient('assembled');
    const id = (n: number) => Buffer.from(`block-${String(n).padStart(4, '0')}`).toString('base64');
    await blob.stageBlock(id(1), 'hello ', 6);
    await blob.stageBlock(id(2), 'world', 5);
    await blob.stageBlock(id(3), 'unused', 6);
    let list = await blob.getBlockList('all');
    assert.deepEqual(
      list.uncommittedBlocks?.map((b) => b.size),
      [6, 5, 6],
    );
    await assert.rejects(blob.getProperties(), { statusCode: 404 }, 'staged blocks are not a blob');
    await blob.commitBlockList([id(1), id(2)]);
    assert.equal((await blob.downloadToBuffer()).toString(), 'hello world');
    list = await blob.getBlockList('all');
    assert.deepEqual(
      list.committedBlocks?.map((b) => b.name),
      [id(1), id(2)],
    );
    assert.deepEqual(list.uncommittedBlocks, [], 'a commit discards the uncommitted blocks');
    // Reuse a committed block in a new list, together with a new one.
    await blob.stageBlock(id(4), '!', 1);
    await blob.commitBlockList([id(2), id(4), id(1)]);
    assert.equal((await blob.downloadToBuffer()).toString(), 'world!hello ');
  });

  it('copies a blob within the service, and through a SAS URL', async () => {
    const container = service.getContainerClient('copies');
    await container.create();
    const source = container.getBlockBlobClient('source.txt');
    await source.upload('copy me', 7, { metadata: { origin: 'source' } });
    const target = container.getBlobClient('target.txt');
    // Copy Blob From URL reads its source as an outside client: a SAS even in the same account (fromUrl.test.ts).
    const copied = await target.syncCopyFromURL(await source.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 60_000) }));
    assert.equal(copied.copyStatus, 'success');
    assert.equal((await target.downloadToBuffer()).toString(), 'copy me');
    assert.deepEqual((await target.getProperties()).metadata, { origin: 'source' });
    const poller = await container
      .getBlobClient('target2.txt')
      .beginCopyFromURL(await source.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 60_000) }));
    const result = await poller.pollUntilDone();
    assert.equal(result.copyStatus, 'success');
    await source.delete();
    assert.equal((await container.getBlobClient('target2.txt').downloadToBuffer()).toString(), 'copy me', 'a copy outlives its source');
  });

  it('works through SAS URLs it generates itself', async () => {
    const container = service.getContainerClient('sas-roundtrip');
    await container.create();
    const blob = container.getBlockBlobClient('dir/a b+ü.txt');
    await blob.upload('through sas', 11);
    const readUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
    assert.equal((await new BlockBlobClient(readUrl).downloadToBuffer()).toString(), 'through sas');
    const writeUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rwlc'), expiresOn: new Date(Date.now() + 3600_000) });
    const viaSas = new ContainerClient(writeUrl);
    await viaSas.getBlockBlobClient('out/result.txt').upload('written with sas', 16);
    assert.equal((await container.getBlockBlobClient('out/result.txt').downloadToBuffer()).toString(), 'written with sas');
  });

  it('frees the space of deleted blobs and containers', async () => {
    const container = service.getContainerClient('space');
    await container.create();
    const extentsBefore = countExtents(kiln.dataDir);
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    await container.getBlockBlobClient('one').upload(big, big.length);
    await container.getBlockBlobClient('two').uploadData(big, { maxSingleShotSize: 1024 * 1024, blockSize: 512 * 1024 });
    assert.equal(countExtents(kiln.dataDir), extentsBefore + 5);
    await container.getBlockBlobClient('one').upload('small', 5);
    assert.equal(countExtents(kiln.dataDir), extentsBefore + 4, 'overwriting frees the old content (small blobs live inline)');
    assert.equal((await container.getBlockBlobClient('one').downloadToBuffer()).toString(), 'small');
    await container.getBlockBlobClient('two').delete();
    assert.equal(countExtents(kiln.dataDir), extentsBefore);
    await container.delete();
    assert.equal(countExtents(kiln.dataDir), extentsBefore);
  });
});

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function runConcurrently<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
