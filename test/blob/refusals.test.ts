/**
 * Every refusal Azure answers, with its HTTP status, its error code (x-ms-error-code / err.code) and its
 * XML body, against a real `kiln up`, through the unchanged @azure/storage-blob client, and raw fetch
 * or node:http where the SDK would hide or prevent the request.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  BlobSASPermissions,
  BlobServiceClient,
  BlockBlobClient,
  ContainerClient,
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
} from '@azure/storage-blob';
import { expectRawError, rejectsWith } from '../helpers/azureErrors.js';
import { sharedKeyFetch } from '../helpers/sharedKeyFetch.js';
import { ACCOUNT, sharedKeyCredential, startKiln, type KilnProcess } from '../helpers/kiln.js';

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

/** A fresh container (Shared Key), unique to the test that asks for it. */
async function newContainer(prefix: string): Promise<ContainerClient> {
  const container = service.getContainerClient(uniqueName(prefix));
  await container.create();
  return container;
}

async function newBlob(prefix: string, content = 'hello world'): Promise<BlockBlobClient> {
  const container = await newContainer(prefix);
  const blob = container.getBlockBlobClient('dir/blob.txt');
  await blob.upload(content, Buffer.byteLength(content));
  return blob;
}

const inHours = (h: number): Date => new Date(Date.now() + h * 3600_000);
const text = async (blob: { download(): Promise<{ readableStreamBody?: NodeJS.ReadableStream }> }): Promise<string> => {
  const res = await blob.download();
  const chunks: Buffer[] = [];
  for await (const chunk of res.readableStreamBody!) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/** A blob SAS URL with every permission, for raw requests that must get past authentication. */
const rawSasUrl = (blob: BlockBlobClient): Promise<string> => blob.generateSasUrl({ permissions: BlobSASPermissions.parse('racwd'), expiresOn: inHours(1) });

/** Re-targets a SAS URL (its query) at another resource URL. */
const withSas = (resourceUrl: string, sasUrl: string): string => `${resourceUrl}?${new URL(sasUrl).search.slice(1)}`;

describe('authentication', () => {
  test('Shared Key with another account key: 403 AuthenticationFailed (body, and header only on HEAD)', async () => {
    const blob = await newBlob('wrongkey');
    const otherKey = randomBytes(64).toString('base64');
    const intruder = new BlobServiceClient(service.url, new StorageSharedKeyCredential(ACCOUNT, otherKey));
    const container = intruder.getContainerClient(blob.containerName);
    const err = await rejectsWith(container.getBlockBlobClient('x.txt').upload('nope', 4), 403, 'AuthenticationFailed');
    assert.match(err.response!.bodyAsText!, /<AuthenticationErrorDetail>[^<]+<\/AuthenticationErrorDetail>/);
    await rejectsWith(container.listBlobsFlat().next(), 403, 'AuthenticationFailed');
    await rejectsWith(container.getBlockBlobClient(blob.name).download(), 403, 'AuthenticationFailed');
    await rejectsWith(container.getBlockBlobClient(blob.name).getProperties(), 403, 'AuthenticationFailed', { body: false });
    await rejectsWith(intruder.getContainerClient(uniqueName('never')).create(), 403, 'AuthenticationFailed');
    // Nothing was written by the refused upload.
    assert.equal(await service.getContainerClient(blob.containerName).getBlobClient('x.txt').exists(), false);
  });

  test('Shared Key with a request date more than 15 minutes off, or none: 403 AuthenticationFailed', async () => {
    const blob = await newBlob('clockskew');
    // The raw signer itself is right: a current date passes, and so does one within the allowed skew.
    const ok = await sharedKeyFetch(blob.url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'hello world');
    const slightlyOff = await sharedKeyFetch(blob.url, {}, { date: new Date(Date.now() - 5 * 60_000) });
    assert.equal(slightlyOff.status, 200);
    await slightlyOff.arrayBuffer();

    for (const offset of [-3600_000, 3600_000]) {
      const res = await sharedKeyFetch(blob.url, {}, { date: new Date(Date.now() + offset) });
      const body = await expectRawError(res, 403, 'AuthenticationFailed');
      assert.match(body, /<AuthenticationErrorDetail>Request date header/);
    }
    const undated = await sharedKeyFetch(blob.url, {}, { date: null });
    await expectRawError(undated, 403, 'AuthenticationFailed');
    // A stale write is refused before it changes anything.
    const stale = await sharedKeyFetch(
      blob.url,
      { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: Buffer.from('replay') },
      { date: new Date(Date.now() - 3600_000) },
    );
    await expectRawError(stale, 403, 'AuthenticationFailed');
    assert.equal(await text(blob), 'hello world');
  });

  test('a SAS with one character of sig changed: 403 AuthenticationFailed', async () => {
    const blob = await newBlob('tamper-sig');
    const url = new URL(await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1) }));
    const sig = url.searchParams.get('sig')!;
    url.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    await rejectsWith(new BlockBlobClient(url.toString()).download(), 403, 'AuthenticationFailed');
    const res = await fetch(url);
    // Azure also puts the message in the reason phrase.
    assert.match(res.statusText, /^Server failed to authenticate the request/);
    const body = await expectRawError(res, 403, 'AuthenticationFailed');
    assert.match(body, /<AuthenticationErrorDetail>Signature did not match/);
  });

  test('a SAS whose sp was widened after signing: 403 AuthenticationFailed', async () => {
    const blob = await newBlob('tamper-sp');
    const url = new URL(await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1) }));
    assert.equal(url.searchParams.get('sp'), 'r');
    url.searchParams.set('sp', 'rw');
    await rejectsWith(new BlockBlobClient(url.toString()).upload('overwritten', 11), 403, 'AuthenticationFailed');
    await rejectsWith(new BlockBlobClient(url.toString()).download(), 403, 'AuthenticationFailed');
    assert.equal(await text(blob), 'hello world');
  });

  test('an expired SAS: 403 AuthenticationFailed', async () => {
    const blob = await newBlob('expired');
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), startsOn: inHours(-2), expiresOn: inHours(-1) });
    await rejectsWith(new BlockBlobClient(sasUrl).download(), 403, 'AuthenticationFailed');
  });

  test('a SAS not valid yet (startsOn an hour ahead): 403 AuthenticationFailed', async () => {
    const blob = await newBlob('notyet');
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), startsOn: inHours(1), expiresOn: inHours(2) });
    await rejectsWith(new BlockBlobClient(sasUrl).download(), 403, 'AuthenticationFailed');
  });
});

describe('SAS scope', () => {
  test('a read-only SAS used to upload: 403 AuthorizationPermissionMismatch', async () => {
    const blob = await newBlob('ro-upload');
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1) });
    await rejectsWith(new BlockBlobClient(sasUrl).upload('overwritten', 11), 403, 'AuthorizationPermissionMismatch');
    await rejectsWith(new BlockBlobClient(sasUrl).stageBlock(Buffer.from('b1').toString('base64'), 'x', 1), 403, 'AuthorizationPermissionMismatch');
    await rejectsWith(new BlockBlobClient(sasUrl).delete(), 403, 'AuthorizationPermissionMismatch');
    assert.equal(await text(new BlockBlobClient(sasUrl)), 'hello world');
  });

  test('a SAS with c and no w creates blobs but may not replace one: 403 AuthorizationPermissionMismatch', async () => {
    const blob = await newBlob('create-only');
    const container = service.getContainerClient(blob.containerName);
    const serviceSas = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rc'), expiresOn: inHours(1) });
    const accountSas = service.generateAccountSasUrl(inHours(1), AccountSASPermissions.parse('rc'), AccountSASResourceTypes.parse('o').toString());
    const clients = [new ContainerClient(serviceSas), new BlobServiceClient(accountSas).getContainerClient(blob.containerName)];
    const copySource = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1) });
    for (const [i, viaSas] of clients.entries()) {
      // New blobs: Put Blob, and Put Block + Put Block List.
      await viaSas.getBlockBlobClient(`new-${i}.txt`).upload('created', 7);
      const blocks = viaSas.getBlockBlobClient(`blocks-${i}.bin`);
      const id = Buffer.from('block-0').toString('base64');
      await blocks.stageBlock(id, 'abc', 3);
      await blocks.commitBlockList([id]);
      assert.equal(await text(blocks), 'abc');
      await viaSas.getBlockBlobClient(`copy-${i}.txt`).syncCopyFromURL(copySource);
      assert.equal(await text(viaSas.getBlockBlobClient(`copy-${i}.txt`)), 'hello world');
      // Existing blobs: refused, content untouched.
      await rejectsWith(viaSas.getBlockBlobClient(blob.name).upload('replaced', 8), 403, 'AuthorizationPermissionMismatch');
      await rejectsWith(viaSas.getBlockBlobClient(`new-${i}.txt`).upload('replaced', 8), 403, 'AuthorizationPermissionMismatch');
      await rejectsWith(blocks.commitBlockList([id]), 403, 'AuthorizationPermissionMismatch');
      await rejectsWith(viaSas.getBlockBlobClient(`new-${i}.txt`).syncCopyFromURL(copySource), 403, 'AuthorizationPermissionMismatch');
      assert.equal(await text(viaSas.getBlockBlobClient(`new-${i}.txt`)), 'created');
    }
    assert.equal(await text(blob), 'hello world');
    // w replaces.
    const writer = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('w'), expiresOn: inHours(1) });
    await new ContainerClient(writer).getBlockBlobClient(blob.name).upload('replaced', 8);
    assert.equal(await text(blob), 'replaced');
  });

  test('a container SAS without l used to list: 403 AuthorizationPermissionMismatch', async () => {
    const container = await newContainer('no-list');
    const sasUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rwd'), expiresOn: inHours(1) });
    await rejectsWith(new ContainerClient(sasUrl).listBlobsFlat().next(), 403, 'AuthorizationPermissionMismatch');
  });

  test('a container SAS without d used to delete: 403 AuthorizationPermissionMismatch', async () => {
    const blob = await newBlob('no-delete');
    const container = service.getContainerClient(blob.containerName);
    const sasUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rwl'), expiresOn: inHours(1) });
    const viaSas = new ContainerClient(sasUrl);
    await rejectsWith(viaSas.getBlockBlobClient(blob.name).delete(), 403, 'AuthorizationPermissionMismatch');
    assert.equal(await blob.exists(), true);
  });

  test('a container SAS cannot touch the container itself (properties, metadata, ACL, delete, create): 403 AuthorizationFailure', async () => {
    // Azure: container properties, metadata, ACL and deletion need an account SAS; a service SAS only lists.
    const container = await newContainer('csas-container-ops');
    const sasUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: inHours(1) });
    const viaSas = new ContainerClient(sasUrl);
    await rejectsWith(viaSas.getProperties(), 403, 'AuthorizationFailure');
    await rejectsWith(viaSas.setMetadata({ a: 'b' }), 403, 'AuthorizationFailure');
    await rejectsWith(viaSas.getAccessPolicy(), 403, 'AuthorizationFailure');
    await rejectsWith(viaSas.setAccessPolicy('container'), 403, 'AuthorizationFailure');
    await rejectsWith(viaSas.delete(), 403, 'AuthorizationFailure');
    assert.equal(await container.exists(), true);
    assert.equal((await container.getProperties()).blobPublicAccess, undefined);

    const absent = service.getContainerClient(uniqueName('csas-create'));
    const createSas = await absent.generateSasUrl({ permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: inHours(1) });
    await rejectsWith(new ContainerClient(createSas).create(), 403, 'AuthorizationFailure');
    assert.equal(await absent.exists(), false);
    // What it is for still works.
    await viaSas.getBlockBlobClient('x.txt').upload('x', 1);
    assert.equal((await viaSas.listBlobsFlat().next()).value?.name, 'x.txt');
  });

  test('a forged container SAS on a container operation is still AuthenticationFailed', async () => {
    const container = await newContainer('csas-forged');
    const url = new URL(await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('racwdl'), expiresOn: inHours(1) }));
    url.searchParams.set('sp', 'racwdlx');
    await rejectsWith(new ContainerClient(url.toString()).delete(), 403, 'AuthenticationFailed');
  });

  test('a blob SAS used to list its container: 403 AuthorizationResourceTypeMismatch', async () => {
    const blob = await newBlob('blobsas-list');
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('racwd'), expiresOn: inHours(1) });
    const container = new ContainerClient(withSas(service.getContainerClient(blob.containerName).url, sasUrl));
    await rejectsWith(container.listBlobsFlat().next(), 403, 'AuthorizationResourceTypeMismatch');
    // The same SAS does read its own blob.
    assert.equal(await text(new BlockBlobClient(sasUrl)), 'hello world');
  });

  test('an account SAS whose srt lacks o, used on a blob: 403 AuthorizationResourceTypeMismatch', async () => {
    const blob = await newBlob('acct-no-o');
    const sasUrl = service.generateAccountSasUrl(inHours(1), AccountSASPermissions.parse('rwdlc'), AccountSASResourceTypes.parse('sc').toString());
    const viaSas = new BlobServiceClient(sasUrl);
    await rejectsWith(viaSas.getContainerClient(blob.containerName).getBlockBlobClient(blob.name).download(), 403, 'AuthorizationResourceTypeMismatch');
    // The container level it covers still works.
    const names = [];
    for await (const item of viaSas.getContainerClient(blob.containerName).listBlobsFlat()) names.push(item.name);
    assert.deepEqual(names, [blob.name]);
  });

  test('an account SAS whose ss lacks b: 403 AuthorizationServiceMismatch', async () => {
    const blob = await newBlob('acct-no-b');
    const sas = generateAccountSASQueryParameters(
      {
        expiresOn: inHours(1),
        permissions: AccountSASPermissions.parse('rwdlc'),
        resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
        services: AccountSASServices.parse('qft').toString(),
      },
      sharedKeyCredential(),
    ).toString();
    const viaSas = new BlobServiceClient(`${service.url}?${sas}`);
    await rejectsWith(viaSas.getContainerClient(blob.containerName).getBlockBlobClient(blob.name).download(), 403, 'AuthorizationServiceMismatch');
    await rejectsWith(viaSas.getContainerClient(blob.containerName).listBlobsFlat().next(), 403, 'AuthorizationServiceMismatch');
  });

  test('a SAS with spr=https used over http: 403 AuthorizationProtocolMismatch', async () => {
    const blob = await newBlob('https-only');
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1), protocol: SASProtocol.Https });
    assert.equal(new URL(sasUrl).searchParams.get('spr'), 'https');
    await rejectsWith(new BlockBlobClient(sasUrl).download(), 403, 'AuthorizationProtocolMismatch');
    // https,http is fine over http.
    const either = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1), protocol: SASProtocol.HttpsAndHttp });
    assert.equal(await text(new BlockBlobClient(either)), 'hello world');
  });

  test('a SAS with an sip range excluding 127.0.0.1 is AuthorizationSourceIPMismatch; one including it works', async () => {
    const blob = await newBlob('sip');
    const elsewhere = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1), ipRange: { start: '10.1.2.3', end: '10.1.2.200' } });
    assert.equal(new URL(elsewhere).searchParams.get('sip'), '10.1.2.3-10.1.2.200');
    await rejectsWith(new BlockBlobClient(elsewhere).download(), 403, 'AuthorizationSourceIPMismatch');
    const single = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1), ipRange: { start: '127.0.0.2' } });
    await rejectsWith(new BlockBlobClient(single).download(), 403, 'AuthorizationSourceIPMismatch');

    const range = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1), ipRange: { start: '127.0.0.0', end: '127.0.0.255' } });
    assert.equal(await text(new BlockBlobClient(range)), 'hello world');
    const exact = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1), ipRange: { start: '127.0.0.1' } });
    assert.equal(await text(new BlockBlobClient(exact)), 'hello world');
  });
});

describe('anonymous access', () => {
  test('a private container: blob read, HEAD and listing are 404 ResourceNotFound', async () => {
    const blob = await newBlob('anon-private');
    const anonBlob = new BlockBlobClient(blob.url);
    await rejectsWith(anonBlob.download(), 404, 'ResourceNotFound');
    await rejectsWith(anonBlob.getProperties(), 404, 'ResourceNotFound', { body: false });
    await rejectsWith(new ContainerClient(service.getContainerClient(blob.containerName).url).listBlobsFlat().next(), 404, 'ResourceNotFound');
    // A container that does not exist looks the same: nothing is revealed.
    await rejectsWith(new BlockBlobClient(`${service.url}/${uniqueName('absent')}/x.txt`).download(), 404, 'ResourceNotFound');
  });

  test("public access 'blob': blobs are readable, the container is neither listable nor readable", async () => {
    const blob = await newBlob('anon-blob');
    const container = service.getContainerClient(blob.containerName);
    await container.setAccessPolicy('blob');
    const anonBlob = new BlockBlobClient(blob.url);
    assert.equal(await text(anonBlob), 'hello world');
    assert.equal((await anonBlob.getProperties()).contentLength, 11);
    const anonContainer = new ContainerClient(container.url);
    await rejectsWith(anonContainer.listBlobsFlat().next(), 404, 'ResourceNotFound');
    await rejectsWith(anonContainer.getProperties(), 404, 'ResourceNotFound');
    await rejectsWith(anonContainer.getBlockBlobClient('missing.txt').download(), 404, 'BlobNotFound');
  });

  test("public access 'container': anonymous listing works", async () => {
    const blob = await newBlob('anon-container');
    const container = service.getContainerClient(blob.containerName);
    await container.setAccessPolicy('container');
    const names = [];
    for await (const item of new ContainerClient(container.url).listBlobsFlat()) names.push(item.name);
    assert.deepEqual(names, [blob.name]);
    assert.equal(await text(new BlockBlobClient(blob.url)), 'hello world');
  });

  test('anonymous writes are refused even on a public container', async () => {
    const blob = await newBlob('anon-write');
    const container = service.getContainerClient(blob.containerName);
    await container.setAccessPolicy('container');
    const anonContainer = new ContainerClient(container.url);
    await rejectsWith(anonContainer.getBlockBlobClient('new.txt').upload('x', 1), 404, 'ResourceNotFound');
    await rejectsWith(new BlockBlobClient(blob.url).upload('overwritten', 11), 404, 'ResourceNotFound');
    await rejectsWith(new BlockBlobClient(blob.url).delete(), 404, 'ResourceNotFound');
    await rejectsWith(new BlockBlobClient(blob.url).setMetadata({ a: 'b' }), 404, 'ResourceNotFound');
    await rejectsWith(anonContainer.setMetadata({ a: 'b' }), 404, 'ResourceNotFound');
    await rejectsWith(anonContainer.delete(), 404, 'ResourceNotFound');
    await rejectsWith(new ContainerClient(`${service.url}/${uniqueName('anon-create')}`).create(), 404, 'ResourceNotFound');
    assert.equal(await text(blob), 'hello world');
    assert.equal(await container.getBlockBlobClient('new.txt').exists(), false);
  });
});

describe('not found and conflicts', () => {
  test('a missing container: 404 ContainerNotFound on upload, list and get properties', async () => {
    const container = service.getContainerClient(uniqueName('missing'));
    await rejectsWith(container.getBlockBlobClient('a.txt').upload('x', 1), 404, 'ContainerNotFound');
    await rejectsWith(container.listBlobsFlat().next(), 404, 'ContainerNotFound');
    await rejectsWith(container.getProperties(), 404, 'ContainerNotFound');
    await rejectsWith(container.delete(), 404, 'ContainerNotFound');
    await rejectsWith(container.getBlockBlobClient('a.txt').stageBlock(Buffer.from('b1').toString('base64'), 'x', 1), 404, 'ContainerNotFound');
  });

  test('a missing blob: 404 BlobNotFound on download, HEAD (header only) and delete', async () => {
    const container = await newContainer('noblob');
    const blob = container.getBlockBlobClient('nope/missing.txt');
    await rejectsWith(blob.download(), 404, 'BlobNotFound');
    const err = await rejectsWith(blob.getProperties(), 404, 'BlobNotFound', { body: false });
    assert.equal(err.response!.request.method, 'HEAD');
    await rejectsWith(blob.delete(), 404, 'BlobNotFound');
    await rejectsWith(blob.setMetadata({ a: 'b' }), 404, 'BlobNotFound');
  });

  test('creating an existing container: 409 ContainerAlreadyExists', async () => {
    const container = await newContainer('twice');
    await rejectsWith(container.create(), 409, 'ContainerAlreadyExists');
    assert.equal((await container.createIfNotExists()).succeeded, false);
  });

  test("upload with ifNoneMatch '*' on an existing blob: 409 BlobAlreadyExists", async () => {
    const blob = await newBlob('exists');
    await rejectsWith(blob.upload('second', 6, { conditions: { ifNoneMatch: '*' } }), 409, 'BlobAlreadyExists');
    assert.equal(await text(blob), 'hello world');
    // On a new name the same condition passes.
    const fresh = service.getContainerClient(blob.containerName).getBlockBlobClient('fresh.txt');
    await fresh.upload('new', 3, { conditions: { ifNoneMatch: '*' } });
    assert.equal(await text(fresh), 'new');
  });
});

describe('conditional requests', () => {
  test('upload with a wrong ifMatch: 412 ConditionNotMet', async () => {
    const blob = await newBlob('ifmatch-write');
    await rejectsWith(blob.upload('second', 6, { conditions: { ifMatch: '"0x8D000000000000"' } }), 412, 'ConditionNotMet');
    await rejectsWith(blob.setMetadata({ a: 'b' }, { conditions: { ifMatch: '"0x8D000000000000"' } }), 412, 'ConditionNotMet');
    assert.equal(await text(blob), 'hello world');
    const { etag } = await blob.getProperties();
    await blob.upload('second', 6, { conditions: { ifMatch: etag } });
    assert.equal(await text(blob), 'second');
  });

  test('download with a wrong ifMatch: 412 ConditionNotMet', async () => {
    const blob = await newBlob('ifmatch-read');
    await rejectsWith(blob.download(0, undefined, { conditions: { ifMatch: '"0x8D000000000000"' } }), 412, 'ConditionNotMet');
  });

  test('download with ifNoneMatch = the current ETag: 304 with no body', async () => {
    const blob = await newBlob('ifnonematch');
    const { etag } = await blob.getProperties();
    await rejectsWith(blob.download(0, undefined, { conditions: { ifNoneMatch: etag } }), 304, 'ConditionNotMet', { body: false });
    await rejectsWith(blob.getProperties({ conditions: { ifNoneMatch: etag } }), 304, 'ConditionNotMet', { body: false });
    // Another ETag downloads.
    const res = await blob.download(0, undefined, { conditions: { ifNoneMatch: '"0x8D000000000000"' } });
    assert.equal(res.contentLength, 11);
    res.readableStreamBody!.resume();
  });

  test('download with ifModifiedSince in the future: 304', async () => {
    const blob = await newBlob('ifmodified');
    await rejectsWith(blob.download(0, undefined, { conditions: { ifModifiedSince: inHours(1) } }), 304, 'ConditionNotMet', { body: false });
    const res = await blob.download(0, undefined, { conditions: { ifModifiedSince: inHours(-1) } });
    assert.equal(res._response.status, 200);
    res.readableStreamBody!.resume();
  });

  test('download with ifUnmodifiedSince in the past: 412 ConditionNotMet', async () => {
    const blob = await newBlob('ifunmodified');
    await rejectsWith(blob.download(0, undefined, { conditions: { ifUnmodifiedSince: inHours(-1) } }), 412, 'ConditionNotMet');
    const res = await blob.download(0, undefined, { conditions: { ifUnmodifiedSince: inHours(1) } });
    assert.equal(res._response.status, 200);
    res.readableStreamBody!.resume();
  });
});

describe('ranges', () => {
  test('a range starting past the end: 416 InvalidRange; an end past it is clamped', async () => {
    const blob = await newBlob('range-eof', '0123456789');
    await rejectsWith(blob.download(10, 5), 416, 'InvalidRange');
    await rejectsWith(blob.download(100), 416, 'InvalidRange');
    const res = await blob.download(5, 100);
    assert.equal(res._response.status, 206);
    assert.equal(res.contentRange, 'bytes 5-9/10');
    res.readableStreamBody!.resume();
  });

  test('any range on an empty blob: 416 InvalidRange', async () => {
    const blob = await newBlob('range-empty', '');
    await rejectsWith(blob.download(0, 1), 416, 'InvalidRange');
    await rejectsWith(blob.download(0, 33554432), 416, 'InvalidRange');
    assert.equal(await text(blob), '');
  });

  test('an unparsable x-ms-range (bytes=None-) is ignored: 200 with the whole body', async () => {
    const blob = await newBlob('range-none', 'the whole body');
    const sasUrl = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: inHours(1) });
    const res = await fetch(sasUrl, { headers: { 'x-ms-range': 'bytes=None-', 'x-ms-version': '2015-04-05' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-range'), null);
    assert.equal(await res.text(), 'the whole body');
    const res2 = await fetch(sasUrl, { headers: { Range: 'bytes=abc' } });
    assert.equal(res2.status, 200);
    assert.equal(await res2.text(), 'the whole body');
    // The same, Shared Key-signed as the legacy v2015 client sends it.
    const signed = await sharedKeyFetch(blob.url, { headers: { 'x-ms-range': 'bytes=None-', 'x-ms-version': '2015-04-05' } });
    assert.equal(signed.status, 200);
    assert.equal(signed.headers.get('content-length'), '14');
    assert.equal(await signed.text(), 'the whole body');
  });
});

describe('bad input', () => {
  test('a container named Bad_Name: 400 InvalidResourceName', async () => {
    await rejectsWith(service.getContainerClient('Bad_Name').create(), 400, 'InvalidResourceName');
  });

  test('commitBlockList with an unknown block id: 400 InvalidBlockList', async () => {
    const container = await newContainer('blocklist');
    const blob = container.getBlockBlobClient('blocks.bin');
    const known = Buffer.from('block-000').toString('base64');
    const unknown = Buffer.from('block-999').toString('base64');
    await blob.stageBlock(known, 'abc', 3);
    await rejectsWith(blob.commitBlockList([known, unknown]), 400, 'InvalidBlockList');
    assert.equal(await blob.exists(), false);
    // The staged block survived the refused commit.
    await blob.commitBlockList([known]);
    assert.equal(await text(blob), 'abc');
  });

  test('stageBlock with a block id that is not base64 (raw request): 400 InvalidQueryParameterValue', async () => {
    const container = await newContainer('badblockid');
    const blob = container.getBlockBlobClient('b.bin');
    const sasUrl = await rawSasUrl(blob);
    for (const blockId of ['not base64!', 'abc', '****']) {
      const res = await fetch(`${sasUrl}&comp=block&blockid=${encodeURIComponent(blockId)}`, { method: 'PUT', body: 'data' });
      const body = await expectRawError(res, 400, 'InvalidQueryParameterValue');
      assert.match(body, /<QueryParameterName>blockid<\/QueryParameterName>/);
    }
  });

  test('Put Blob with a wrong Content-MD5: 400 Md5Mismatch, the previous content intact', async () => {
    const blob = await newBlob('md5', 'original content');
    const { etag } = await blob.getProperties();
    const wrong = Buffer.from('0123456789abcdef');
    // BlockBlobClient.upload has no option for Content-MD5, so Put Blob goes raw (through a SAS).
    const res = await fetch(await rawSasUrl(blob), {
      method: 'PUT',
      body: 'replacement',
      headers: { 'x-ms-blob-type': 'BlockBlob', 'Content-MD5': wrong.toString('base64') },
    });
    const body = await expectRawError(res, 400, 'Md5Mismatch');
    assert.match(body, /<UserSpecifiedMd5>MDEyMzQ1Njc4OWFiY2RlZg==<\/UserSpecifiedMd5>/);
    assert.equal(await text(blob), 'original content');
    assert.equal((await blob.getProperties()).etag, etag);
    // Put Block checks its transactional MD5 the same way (the SDK sends it there).
    await rejectsWith(blob.stageBlock(Buffer.from('b1').toString('base64'), 'abc', 3, { transactionalContentMD5: new Uint8Array(wrong) }), 400, 'Md5Mismatch');
    assert.deepEqual((await blob.getBlockList('uncommitted')).uncommittedBlocks, []);
  });

  test('a metadata name starting with a digit (raw request): 400 InvalidMetadata', async () => {
    const container = await newContainer('badmeta');
    const blob = container.getBlockBlobClient('m.txt');
    const sasUrl = await rawSasUrl(blob);
    const res = await fetch(sasUrl, { method: 'PUT', body: 'x', headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-meta-1abc': 'v' } });
    await expectRawError(res, 400, 'InvalidMetadata');
    const dash = await fetch(sasUrl, { method: 'PUT', body: 'x', headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-meta-a-b': 'v' } });
    await expectRawError(dash, 400, 'InvalidMetadata');
    assert.equal(await blob.exists(), false);
  });

  test('an upload without Content-Length (chunked): 411 MissingContentLengthHeader', async () => {
    const container = await newContainer('chunked');
    const blob = container.getBlockBlobClient('c.txt');
    const url = new URL(await rawSasUrl(blob));
    const { status, headers, body } = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      const req = http.request(url, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob', 'Transfer-Encoding': 'chunked' } }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.write('hello ');
      req.end('world');
    });
    assert.equal(status, 411, body);
    assert.equal(headers['x-ms-error-code'], 'MissingContentLengthHeader');
    assert.match(headers['content-type'] ?? '', /^application\/xml/);
    assert.match(body, /<Error><Code>MissingContentLengthHeader<\/Code><Message>[^<]+<\/Message>/);
    assert.equal(await blob.exists(), false);
  });
});
