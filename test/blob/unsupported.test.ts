/**
 * Nothing silently ignored: the Blob features Kiln does not implement (snapshots, versions, tags, tiers,
 * leases, immutability, customer-provided keys and scopes, page and append blobs, CRC64, ...) are refused
 * with Azure's status and code (src/protocol/blob/unsupported.ts), and the refused request changes nothing.
 * Their default values are accepted. Through @azure/storage-blob, the Python SDK (what `az storage blob
 * delete --snapshot` runs), and signed raw requests where the SDK cannot send it over http.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { BlobServiceClient, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { expectRawError, rejectsWith } from '../helpers/azureErrors.js';
import { sharedKeyFetch } from '../helpers/sharedKeyFetch.js';
import { ACCOUNT, KEY, ROOT, startKiln, type KilnProcess } from '../helpers/kiln.js';

let kiln: KilnProcess;
let service: BlobServiceClient;

before(async () => {
  kiln = await startKiln();
  service = kiln.blobService();
});

after(async () => {
  await kiln?.stop();
  if (kiln) fs.rmSync(kiln.dataDir, { recursive: true, force: true });
});

let counter = 0;
const uniqueName = (prefix: string): string => `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;

async function newContainer(prefix: string): Promise<ContainerClient> {
  const container = service.getContainerClient(uniqueName(prefix));
  await container.create();
  return container;
}

async function newBlob(prefix: string, content = 'base content'): Promise<BlockBlobClient> {
  const blob = (await newContainer(prefix)).getBlockBlobClient('dir/blob.txt');
  await blob.upload(content, Buffer.byteLength(content));
  return blob;
}

const text = async (blob: BlockBlobClient): Promise<string> => (await blob.downloadToBuffer()).toString('utf8');
const SNAPSHOT = '2024-01-01T00:00:00.0000000Z';

/** An SDK call refused as unsupported, the header or parameter named in the XML body. */
async function refusedHeader(call: Promise<unknown>, header: string): Promise<void> {
  const err = await rejectsWith(call, 400, 'UnsupportedHeader');
  assert.match(err.response!.bodyAsText!, new RegExp(`<HeaderName>${header}</HeaderName>`));
  assert.match(err.message, /Kiln does not support/);
}
async function refusedQuery(call: Promise<unknown>, name: string, opts: { body?: boolean } = {}): Promise<void> {
  const err = await rejectsWith(call, 400, 'UnsupportedQueryParameter', opts);
  if (opts.body !== false) assert.match(err.response!.bodyAsText!, new RegExp(`<QueryParameterName>${name}</QueryParameterName>`));
}

describe('snapshots and versions', () => {
  test('delete with x-ms-delete-snapshots (include or only): 400 UnsupportedHeader, the base blob survives', async () => {
    const blob = await newBlob('del-snapshots');
    await refusedHeader(blob.delete({ deleteSnapshots: 'only' }), 'x-ms-delete-snapshots');
    await refusedHeader(blob.delete({ deleteSnapshots: 'include' }), 'x-ms-delete-snapshots');
    await refusedHeader(blob.deleteIfExists({ deleteSnapshots: 'only' }), 'x-ms-delete-snapshots');
    assert.equal(await text(blob), 'base content');
  });

  test('?snapshot= and ?versionid= on any operation: 400 UnsupportedQueryParameter, never the base blob', async () => {
    const blob = await newBlob('snapshot-param');
    const snap = blob.withSnapshot(SNAPSHOT);
    await refusedQuery(snap.delete(), 'snapshot');
    await refusedQuery(snap.download(), 'snapshot');
    await refusedQuery(snap.getProperties(), 'snapshot', { body: false });
    await refusedQuery(snap.setMetadata({ a: 'b' }), 'snapshot');
    const version = blob.withVersion(SNAPSHOT);
    await refusedQuery(version.delete(), 'versionid');
    await refusedQuery(version.download(), 'versionid');
    assert.equal(await text(blob), 'base content');
    assert.deepEqual((await blob.getProperties()).metadata, {});
  });

  test('Create Snapshot (comp=snapshot): 400 UnsupportedQueryParameter comp', async () => {
    const blob = await newBlob('create-snapshot');
    await refusedQuery(blob.createSnapshot(), 'comp');
  });

  test('listing with include=snapshots,versions,deleted,tags is what Azure lists without them; uncommittedblobs refused', async () => {
    const blob = await newBlob('list-include');
    const container = service.getContainerClient(blob.containerName);
    const names = [];
    for await (const item of container.listBlobsFlat({
      includeSnapshots: true,
      includeVersions: true,
      includeDeleted: true,
      includeTags: true,
      includeMetadata: true,
      includeCopy: true,
      includeLegalHold: true,
      includeImmutabilityPolicy: true,
    })) {
      names.push(item.name);
    }
    assert.deepEqual(names, [blob.name]);
    await refusedQuery(container.listBlobsFlat({ includeUncommitedBlobs: true }).next(), 'include');
    const unknown = await sharedKeyFetch(`${container.url}?restype=container&comp=list&include=everything`);
    await expectRawError(unknown, 400, 'InvalidQueryParameterValue');
  });
});

describe('tags, tiers, leases, immutability', () => {
  test('upload with tags: 400 UnsupportedHeader x-ms-tags; Set/Get Blob Tags: comp=tags', async () => {
    const container = await newContainer('tags');
    const blob = container.getBlockBlobClient('t.txt');
    await refusedHeader(blob.upload('x', 1, { tags: { a: 'b' } }), 'x-ms-tags');
    assert.equal(await blob.exists(), false);
    await blob.upload('x', 1);
    await refusedQuery(blob.setTags({ a: 'b' }), 'comp');
    await refusedQuery(blob.getTags(), 'comp');
    await refusedHeader(blob.upload('y', 1, { conditions: { tagConditions: `"a"='b'` } }), 'x-ms-if-tags');
    assert.equal(await text(blob), 'x');
  });

  test('access tier Cool or Archive: 400 UnsupportedHeader; Hot (the default) accepted; Set Blob Tier: comp=tier', async () => {
    const container = await newContainer('tier');
    const blob = container.getBlockBlobClient('t.txt');
    await refusedHeader(blob.upload('x', 1, { tier: 'Cool' }), 'x-ms-access-tier');
    await refusedHeader(blob.upload('x', 1, { tier: 'Archive' }), 'x-ms-access-tier');
    assert.equal(await blob.exists(), false);
    await blob.upload('hot', 3, { tier: 'Hot' });
    assert.equal((await blob.getProperties()).accessTier, 'Hot');
    await refusedQuery(blob.setAccessTier('Cool'), 'comp');
    await refusedQuery(blob.setAccessTier('Hot'), 'comp');
    const id = Buffer.from('b').toString('base64');
    await blob.stageBlock(id, 'z', 1);
    await refusedHeader(blob.commitBlockList([id], { tier: 'Cool' }), 'x-ms-access-tier');
    const rehydrate = await sharedKeyFetch(blob.url, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-rehydrate-priority': 'High' }, body: Buffer.from('r') });
    await expectRawError(rehydrate, 400, 'UnsupportedHeader');
    assert.equal(await text(blob), 'hot');
  });

  test('leases: acquire (blob and container) comp=lease; x-ms-lease-id on a write or a read: UnsupportedHeader', async () => {
    const blob = await newBlob('lease');
    const container = service.getContainerClient(blob.containerName);
    await refusedQuery(blob.getBlobLeaseClient().acquireLease(30), 'comp');
    await refusedQuery(container.getBlobLeaseClient().acquireLease(-1), 'comp');
    const leaseId = '6b4c4c1e-0b9f-4f0c-8a64-5b0c4b6d7a11';
    await refusedHeader(blob.upload('replaced', 8, { conditions: { leaseId } }), 'x-ms-lease-id');
    await refusedHeader(blob.delete({ conditions: { leaseId } }), 'x-ms-lease-id');
    await refusedHeader(blob.download(0, undefined, { conditions: { leaseId } }), 'x-ms-lease-id');
    await refusedHeader(container.delete({ conditions: { leaseId } }), 'x-ms-lease-id');
    assert.equal(await text(blob), 'base content');
    assert.equal(await container.exists(), true);
  });

  test('immutability policy and legal hold: 400 UnsupportedHeader; legal hold false accepted', async () => {
    const container = await newContainer('immutable');
    const blob = container.getBlockBlobClient('i.txt');
    await refusedHeader(
      blob.upload('x', 1, { immutabilityPolicy: { expiriesOn: new Date(Date.now() + 3600_000), policyMode: 'Unlocked' } }),
      'x-ms-immutability-policy-until-date',
    );
    await refusedHeader(blob.upload('x', 1, { legalHold: true }), 'x-ms-legal-hold');
    await refusedQuery(blob.setLegalHold(true), 'comp');
    assert.equal(await blob.exists(), false);
    await blob.upload('x', 1, { legalHold: false });
    assert.equal(await text(blob), 'x');
  });
});

describe('encryption, blob types, CRC64, service operations', () => {
  test('customer-provided keys and encryption scopes: 400 UnsupportedHeader; the account scope accepted', async () => {
    const container = await newContainer('cpk');
    const blob = container.getBlockBlobClient('e.txt');
    const key = randomBytes(32).toString('base64');
    const cpk = await sharedKeyFetch(blob.url, {
      method: 'PUT',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-encryption-key': key, 'x-ms-encryption-key-sha256': 'x', 'x-ms-encryption-algorithm': 'AES256' },
      body: Buffer.from('secret'),
    });
    assert.match(await expectRawError(cpk, 400, 'UnsupportedHeader'), /<HeaderName>x-ms-encryption-key<\/HeaderName>/);
    await refusedHeader(blob.upload('x', 1, { encryptionScope: 'myscope' }), 'x-ms-encryption-scope');
    await refusedHeader(
      service.getContainerClient(uniqueName('scoped')).create({ containerEncryptionScope: { defaultEncryptionScope: 'myscope' } }),
      'x-ms-default-encryption-scope',
    );
    assert.equal(await blob.exists(), false);
    await blob.upload('x', 1, { encryptionScope: '$account-encryption-key' });
    assert.equal(await text(blob), 'x');
  });

  test('page and append blobs: 400 InvalidHeaderValue x-ms-blob-type; their operations comp=page/appendblock', async () => {
    const container = await newContainer('types');
    const page = container.getPageBlobClient('p.vhd');
    const err = await rejectsWith(page.create(512), 400, 'InvalidHeaderValue');
    assert.match(err.message, /Kiln does not support page blobs/);
    await rejectsWith(container.getAppendBlobClient('a.log').create(), 400, 'InvalidHeaderValue');
    assert.equal(await page.exists(), false);
    const blob = container.getBlockBlobClient('b.txt');
    await blob.upload('x', 1);
    await refusedQuery(container.getAppendBlobClient('b.txt').appendBlock('y', 1), 'comp');
    await refusedQuery(container.getPageBlobClient('b.txt').getPageRanges(), 'comp');
    assert.equal(await text(blob), 'x');
  });

  test('CRC64 validation: 400 UnsupportedHeader (Kiln does not check it, so it does not accept it)', async () => {
    const container = await newContainer('crc');
    const blob = container.getBlockBlobClient('c.txt');
    await refusedHeader(blob.stageBlock(Buffer.from('b').toString('base64'), 'x', 1, { transactionalContentCrc64: new Uint8Array(8) }), 'x-ms-content-crc64');
  });

  test('Set Blob Service Properties and Get Blob Service Stats: 400 UnsupportedQueryParameter comp', async () => {
    await refusedQuery(service.setProperties({ deleteRetentionPolicy: { enabled: true, days: 1 } }), 'comp');
    await refusedQuery(service.getStatistics(), 'comp');
    // Get Blob Service Properties still answers.
    assert.ok(await service.getProperties());
  });
});

describe('Python SDK (what az storage blob delete --snapshot sends)', () => {
  test('delete_blob with snapshot= or delete_snapshots=: refused, the base blob survives', async () => {
    const env = { ...process.env, KILN_ACCOUNT: ACCOUNT, KILN_KEY: KEY, KILN_BLOB_URL: kiln.blobUrl };
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [path.join(ROOT, 'test/blob/python/unsupported.py')], { env });
    assert.match(stdout, /^delete snapshot: 400 UnsupportedQueryParameter$/m);
    assert.match(stdout, /^delete_snapshots=only: 400 UnsupportedHeader$/m);
    assert.match(stdout, /^delete_snapshots=include: 400 UnsupportedHeader$/m);
    assert.match(stdout, /^create_snapshot: 400 UnsupportedQueryParameter$/m);
    assert.match(stdout, /^standard_blob_tier=Cool: 400 UnsupportedHeader$/m);
    assert.match(stdout, /^base survives: base content$/m);
    assert.match(stdout, /^done$/m);
  });
});
