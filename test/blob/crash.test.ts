import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BlobSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { countExtents, startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Starts a Put Blob through a SAS URL and sends only the first half of the body: an upload cut off. */
function halfUpload(sasUrl: string, body: Buffer): http.ClientRequest {
  const req = http.request(sasUrl, {
    method: 'PUT',
    headers: { 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-12-02', 'Content-Length': body.length },
  });
  req.on('error', () => {}); // the server dies under it
  req.write(body.subarray(0, body.length / 2));
  return req;
}

describe('durability across kill -9', () => {
  const started: KilnProcess[] = [];
  after(async () => {
    for (const k of started) await k.kill9();
    if (started[0]) fs.rmSync(started[0].dataDir, { recursive: true, force: true });
  });

  it('keeps every acknowledged blob intact and no partial one', async () => {
    const first = await startKiln();
    started.push(first);
    const container: ContainerClient = first.blobService().getContainerClient('crash');
    await container.create();

    // A blob that an interrupted overwrite must leave as it was.
    const original = randomBytes(3 << 20);
    await container.getBlockBlobClient('overwritten').upload(original, original.length);
    const sas = (name: string) => container.getBlockBlobClient(name).generateSasUrl({ permissions: BlobSASPermissions.parse('rw'), expiresOn: new Date(Date.now() + 600_000) });
    const cutOverwrite = halfUpload(await sas('overwritten'), randomBytes(4 << 20));
    const cutNew = halfUpload(await sas('never-finished'), randomBytes(4 << 20));

    // A stream of uploads, single-shot and in blocks; the server is killed while they run.
    const acknowledged = new Map<string, string>();
    const intended = new Map<string, string>();
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}/blob-${i}`;
        const body = randomBytes(64 * 1024 + ((i * 977) % (2 << 20)));
        intended.set(name, sha(body));
        const blob = container.getBlockBlobClient(name);
        try {
          if (i % 3 === 0) await blob.uploadData(body, { maxSingleShotSize: 256 * 1024, blockSize: 256 * 1024, concurrency: 2 });
          else await blob.upload(body, body.length);
          acknowledged.set(name, sha(body));
        } catch {
          return;
        }
      }
    });
    await waitFor('some uploads to be acknowledged', () => (acknowledged.size >= 24 ? true : undefined), 30_000);
    await first.kill9();
    stop = true;
    cutOverwrite.destroy();
    cutNew.destroy();
    await Promise.all(writers.map((w) => w.catch(() => undefined)));

    const second = await startKiln({ dataDir: first.dataDir });
    started.push(second);
    const after = second.blobService().getContainerClient('crash');
    for (const [name, digest] of acknowledged) {
      assert.equal(sha(await after.getBlockBlobClient(name).downloadToBuffer()), digest, `${name} survives intact`);
    }
    assert.equal(sha(await after.getBlockBlobClient('overwritten').downloadToBuffer()), sha(original), 'a cut-off overwrite leaves the old version');
    await assert.rejects(after.getBlockBlobClient('never-finished').getProperties(), { statusCode: 404 });
    for await (const item of after.listBlobsFlat()) {
      if (acknowledged.has(item.name) || item.name === 'overwritten') continue;
      // Committed just before the kill, its acknowledgement lost on the way: it must then be whole.
      assert.equal(sha(await after.getBlockBlobClient(item.name).downloadToBuffer()), intended.get(item.name), `${item.name} is whole`);
    }

    // The bytes of cut-off uploads were swept at start-up: every extent file left is referenced.
    const db = new Database(path.join(second.dataDir, 'kiln.sqlite'), { readonly: true });
    const referenced = db.prepare('SELECT COUNT(*) AS n FROM (SELECT extent FROM blob_segments WHERE extent IS NOT NULL UNION SELECT extent FROM uncommitted_blocks)').get() as {
      n: number;
    };
    db.close();
    assert.equal(countExtents(second.dataDir), referenced.n);
  });
});
