/**
 * Put Blob From URL, Put Block From URL and the copy sources Kiln accepts: blobs of its own Blob service
 * (any of its accounts), authorized by the source's SAS or a public container, never a URL of another
 * host. Through the unchanged @azure/storage-blob client and the Python SDK, against a real `kiln up`
 * with two accounts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { BlobSASPermissions, BlobServiceClient, BlockBlobClient, ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { rejectsWith } from '../helpers/azureErrors.js';
import { ACCOUNT, KEY, ROOT, freePort, startKiln, type KilnProcess } from '../helpers/kiln.js';

const OTHER = 'otheraccount';
const OTHER_KEY = randomBytes(64).toString('base64');

let kiln: KilnProcess;
let service: BlobServiceClient;
let other: BlobServiceClient;

before(async () => {
  kiln = await startKiln({ extraArgs: ['--account', `${ACCOUNT}:${KEY}`, '--account', `${OTHER}:${OTHER_KEY}`] });
  service = kiln.blobService();
  other = new BlobServiceClient(`http://127.0.0.1:${kiln.blobPort}/${OTHER}`, new StorageSharedKeyCredential(OTHER, OTHER_KEY));
});

after(async () => {
  await kiln?.stop();
  if (kiln) fs.rmSync(kiln.dataDir, { recursive: true, force: true });
});

let counter = 0;
const uniqueName = (prefix: string): string => `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;

async function newContainer(prefix: string, on: BlobServiceClient = service): Promise<ContainerClient> {
  const container = on.getContainerClient(uniqueName(prefix));
  await container.create();
  return container;
}

/** A source blob with a content type and metadata, and a read SAS URL for it. */
async function newSource(prefix: string, content = '0123456789abcdef', on: BlobServiceClient = service) {
  const container = await newContainer(prefix, on);
  const blob = container.getBlockBlobClient('src/source.txt');
  await blob.upload(content, Buffer.byteLength(content), { blobHTTPHeaders: { blobContentType: 'text/x-source' }, metadata: { origin: 'source' } });
  const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
  return { container, blob, sasUrl };
}

const text = async (blob: BlockBlobClient): Promise<string> => (await blob.downloadToBuffer()).toString('utf8');
const md5 = (s: string): Uint8Array => new Uint8Array(createHash('md5').update(s).digest());

describe('Put Blob From URL (syncUploadFromURL)', () => {
  test('201, synchronous: the source content, its content properties, the request metadata', async () => {
    const { container, sasUrl } = await newSource('pbfu');
    const target = container.getBlockBlobClient('dst/target.txt');
    const res = await target.syncUploadFromURL(sasUrl, { metadata: { mine: 'yes' } });
    assert.equal(res._response.status, 201);
    assert.ok(res.etag);
    assert.equal(await text(target), '0123456789abcdef');
    const props = await target.getProperties();
    assert.equal(props.contentType, 'text/x-source');
    assert.deepEqual(props.metadata, { mine: 'yes' });
    assert.equal(props.copyStatus, undefined, 'Put Blob From URL is not a copy operation');
    assert.deepEqual(Buffer.from(props.contentMD5!), Buffer.from(md5('0123456789abcdef')));
    // Request headers replace the source's properties; copySourceBlobProperties: false takes none.
    await target.syncUploadFromURL(sasUrl, { blobHTTPHeaders: { blobContentType: 'text/x-mine' } });
    assert.equal((await target.getProperties()).contentType, 'text/x-mine');
    await target.syncUploadFromURL(sasUrl, { copySourceBlobProperties: false });
    assert.equal((await target.getProperties()).contentType, 'application/octet-stream');
  });

  test("from another account's blob with its SAS, and from a public container without one", async () => {
    const { blob, sasUrl } = await newSource('pbfu-other', 'from the other account', other);
    const target = (await newContainer('pbfu-dst')).getBlockBlobClient('t.txt');
    await target.syncUploadFromURL(sasUrl);
    assert.equal(await text(target), 'from the other account');
    await rejectsWith(target.syncUploadFromURL(blob.url), 401, 'CannotVerifyCopySource');
    await other.getContainerClient(blob.containerName).setAccessPolicy('blob');
    await target.syncUploadFromURL(blob.url, { metadata: { second: '1' } });
    assert.deepEqual((await target.getProperties()).metadata, { second: '1' });
  });

  test("the caller's Shared Key does not authorize the source, even in its own account: 401 CannotVerifyCopySource", async () => {
    const { container, blob } = await newSource('pbfu-nosas');
    const target = container.getBlockBlobClient('t.txt');
    await rejectsWith(target.syncUploadFromURL(blob.url), 401, 'CannotVerifyCopySource');
    assert.equal(await target.exists(), false);
    // Copy Blob From URL (x-ms-requires-sync) likewise; Copy Blob (asynchronous) does take the key.
    await rejectsWith(container.getBlobClient('sync.txt').syncCopyFromURL(blob.url), 401, 'CannotVerifyCopySource');
    const poller = await container.getBlobClient('async.txt').beginCopyFromURL(blob.url);
    assert.equal((await poller.pollUntilDone()).copyStatus, 'success');
    assert.equal(await text(container.getBlockBlobClient('async.txt')), '0123456789abcdef');
  });

  test('Copy Blob honours x-ms-source-if-*; listings show copy properties only with include=copy', async () => {
    const { container, blob } = await newSource('copy-cond');
    const target = container.getBlobClient('copy.txt');
    await rejectsWith(target.beginCopyFromURL(blob.url, { sourceConditions: { ifNoneMatch: (await blob.getProperties()).etag } }), 412, 'SourceConditionNotMet');
    assert.equal(await target.exists(), false);
    await (await target.beginCopyFromURL(blob.url, { sourceConditions: { ifMatch: (await blob.getProperties()).etag } })).pollUntilDone();
    const listed = async (includeCopy: boolean) => {
      for await (const item of container.listBlobsFlat({ includeCopy })) if (item.name === 'copy.txt') return item.properties.copyStatus;
      return 'missing';
    };
    assert.equal(await listed(true), 'success');
    assert.equal(await listed(false), undefined);
  });

  test('destination and source conditions, and x-ms-source-content-md5, are honoured', async () => {
    const { container, blob, sasUrl } = await newSource('pbfu-cond');
    const target = container.getBlockBlobClient('t.txt');
    await target.upload('existing', 8);
    await rejectsWith(target.syncUploadFromURL(sasUrl, { conditions: { ifNoneMatch: '*' } }), 409, 'BlobAlreadyExists');
    await rejectsWith(target.syncUploadFromURL(sasUrl, { conditions: { ifMatch: '"0x8D000000000000"' } }), 412, 'ConditionNotMet');
    await rejectsWith(target.syncUploadFromURL(sasUrl, { sourceConditions: { ifMatch: '"0x8D000000000000"' } }), 412, 'SourceConditionNotMet');
    await rejectsWith(target.syncUploadFromURL(sasUrl, { sourceConditions: { ifUnmodifiedSince: new Date(Date.now() - 3600_000) } }), 412, 'SourceConditionNotMet');
    await rejectsWith(target.syncUploadFromURL(sasUrl, { sourceContentMD5: md5('something else') }), 400, 'Md5Mismatch');
    assert.equal(await text(target), 'existing');
    const { etag } = await blob.getProperties();
    await target.syncUploadFromURL(sasUrl, { sourceConditions: { ifMatch: etag }, sourceContentMD5: md5('0123456789abcdef') });
    assert.equal(await text(target), '0123456789abcdef');
  });

  test('x-ms-copy-source-authorization (Bearer) is not supported: 400 UnsupportedHeader', async () => {
    const { container, sasUrl } = await newSource('pbfu-bearer');
    const target = container.getBlockBlobClient('t.txt');
    const err = await rejectsWith(target.syncUploadFromURL(sasUrl, { sourceAuthorization: { scheme: 'Bearer', value: 'token' } }), 400, 'UnsupportedHeader');
    assert.match(err.response!.bodyAsText!, /<HeaderName>x-ms-copy-source-authorization<\/HeaderName>/);
    assert.equal(await target.exists(), false);
  });
});

describe('Put Block From URL (stageBlockFromURL)', () => {
  test('201: blocks from ranges of the source, and from all of it', async () => {
    const { container, sasUrl } = await newSource('pbku');
    const target = container.getBlockBlobClient('blocks.bin');
    const id = (n: number) => Buffer.from(`block-${n}`).toString('base64');
    const res = await target.stageBlockFromURL(id(1), sasUrl, 10, 6);
    assert.equal(res._response.status, 201);
    assert.deepEqual(Buffer.from(res.contentMD5!), Buffer.from(md5('abcdef')));
    await target.stageBlockFromURL(id(2), sasUrl, 0, 10);
    await target.stageBlockFromURL(id(3), sasUrl);
    await target.stageBlockFromURL(id(4), sasUrl, 14);
    const list = await target.getBlockList('uncommitted');
    assert.deepEqual(
      list.uncommittedBlocks?.map((b) => b.size),
      [6, 10, 16, 2],
    );
    await target.commitBlockList([id(1), id(2), id(4), id(3)]);
    assert.equal(await text(target), 'abcdef0123456789ef0123456789abcdef');
  });

  test('refusals: no SAS 401, wrong MD5 400, a range past the end 416', async () => {
    const { container, blob, sasUrl } = await newSource('pbku-refuse');
    const target = container.getBlockBlobClient('blocks.bin');
    const id = Buffer.from('block-x').toString('base64');
    await rejectsWith(target.stageBlockFromURL(id, blob.url), 401, 'CannotVerifyCopySource');
    await rejectsWith(target.stageBlockFromURL(id, sasUrl, 0, 4, { sourceContentMD5: md5('nope') }), 400, 'Md5Mismatch');
    await rejectsWith(target.stageBlockFromURL(id, sasUrl, 100, 4), 416, 'InvalidRange');
    assert.deepEqual((await target.getBlockList('all').catch(() => ({ uncommittedBlocks: [] }))).uncommittedBlocks, []);
    // The right MD5 of the range passes.
    await target.stageBlockFromURL(id, sasUrl, 0, 4, { sourceContentMD5: md5('0123') });
    assert.deepEqual(
      (await target.getBlockList('uncommitted')).uncommittedBlocks?.map((b) => b.size),
      [4],
    );
  });
});

describe('copy sources outside Kiln are refused, never mapped to a local blob', () => {
  test('another host, or another port of this one: 400 CannotVerifyCopySource, for every copy operation', async () => {
    const { container, blob, sasUrl } = await newSource('foreign');
    const sas = new URL(sasUrl);
    const closedPort = await freePort();
    const foreign = [
      `https://${ACCOUNT}.blob.core.windows.net/${blob.containerName}/${blob.name}${sas.search}`,
      `http://example.com:${kiln.blobPort}${sas.pathname}${sas.search}`,
      `http://127.0.0.1:${closedPort}${sas.pathname}${sas.search}`,
    ];
    const target = container.getBlockBlobClient('t.txt');
    for (const url of foreign) {
      const err = await rejectsWith(target.syncUploadFromURL(url), 400, 'CannotVerifyCopySource');
      assert.match(err.message, /Kiln copies only from blobs of its own Blob service/);
      await rejectsWith(target.stageBlockFromURL(Buffer.from('b').toString('base64'), url), 400, 'CannotVerifyCopySource');
      await rejectsWith(container.getBlobClient('c.txt').beginCopyFromURL(url), 400, 'CannotVerifyCopySource');
    }
    assert.equal(await target.exists(), false);
    assert.equal(await container.getBlobClient('c.txt').exists(), false);
  });

  test('the service under another name of this machine (localhost for 127.0.0.1) is the same service', async () => {
    const { container, sasUrl } = await newSource('ownname');
    const target = container.getBlockBlobClient('t.txt');
    await target.syncUploadFromURL(sasUrl.replace('127.0.0.1', 'localhost'));
    assert.equal(await text(target), '0123456789abcdef');
  });

  test('a snapshot or version as the source: 400 UnsupportedHeader', async () => {
    const { container, sasUrl } = await newSource('snapsource');
    const target = container.getBlockBlobClient('t.txt');
    await rejectsWith(target.syncUploadFromURL(`${sasUrl}&snapshot=2024-01-01T00%3A00%3A00.0000000Z`), 400, 'UnsupportedHeader');
    await rejectsWith(container.getBlobClient('c.txt').beginCopyFromURL(`${sasUrl}&versionid=2024-01-01T00%3A00%3A00.0000000Z`), 400, 'UnsupportedHeader');
  });
});

describe('Python SDK', () => {
  test('upload_blob_from_url and stage_block_from_url', async () => {
    const env = { ...process.env, KILN_ACCOUNT: ACCOUNT, KILN_KEY: KEY, KILN_BLOB_URL: kiln.blobUrl };
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [path.join(ROOT, 'test/blob/python/from_url.py')], { env });
    assert.match(stdout, /^upload_blob_from_url: copied from the url$/m);
    assert.match(stdout, /^overwrite=False: BlobAlreadyExists$/m);
    assert.match(stdout, /^no sas: 401 CannotVerifyCopySource$/m);
    assert.match(stdout, /^stage_block_from_url: copied the url$/m);
    assert.match(stdout, /^done$/m);
  });
});
