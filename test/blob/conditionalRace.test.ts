import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { RestError, type ContainerClient } from '@azure/storage-blob';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

const RACERS = 12;

/** How each of a set of racing requests ended: 'ok', or the status and error code it was refused with. */
async function outcomes(requests: Promise<unknown>[]): Promise<string[]> {
  const settled = await Promise.allSettled(requests);
  return settled.map((r) => {
    if (r.status === 'fulfilled') return 'ok';
    if (r.reason instanceof RestError) return `${r.reason.statusCode} ${r.reason.code}`;
    throw r.reason;
  });
}

const count = (list: string[], value: string): number => list.filter((v) => v === value).length;

// Conditional writes racing on one blob, through the SDK: the store checks each write's condition inside
// its commit (src/domain/blob/store.ts, Expect), so exactly one of the writes that expect the same version wins.
describe('conditional writes racing on one blob', () => {
  let kiln: KilnProcess;
  let box: ContainerClient;

  before(async () => {
    kiln = await startKiln();
    box = kiln.blobService().getContainerClient('races');
    await box.create();
  });
  after(async () => {
    await kiln.stop();
    fs.rmSync(kiln.dataDir, { recursive: true, force: true });
  });

  it('If-None-Match: * uploads of one new blob: one 201, every other 409 BlobAlreadyExists', async () => {
    const blob = box.getBlockBlobClient('create-once');
    // 100 KiB bodies go to extents, so the commits come after bodies that arrive at the same time.
    const bodies = Array.from({ length: RACERS }, (_, i) => Buffer.alloc(100 << 10, i));
    const results = await outcomes(bodies.map((body) => blob.upload(body, body.length, { conditions: { ifNoneMatch: '*' } })));
    assert.equal(count(results, 'ok'), 1, results.join(', '));
    assert.equal(count(results, '409 BlobAlreadyExists'), RACERS - 1, results.join(', '));
    const stored = await blob.downloadToBuffer();
    assert.ok(
      bodies.some((b) => b.equals(stored)),
      "the blob is one racer's whole body",
    );
  });

  it('If-Match metadata updates from one ETag: one 200, every other 412 ConditionNotMet', async () => {
    const blob = box.getBlockBlobClient('update-once');
    const { etag } = await blob.upload('v1', 2);
    const results = await outcomes(Array.from({ length: RACERS }, (_, i) => blob.setMetadata({ racer: String(i) }, { conditions: { ifMatch: etag } })));
    assert.equal(count(results, 'ok'), 1, results.join(', '));
    assert.equal(count(results, '412 ConditionNotMet'), RACERS - 1, results.join(', '));
    const winner = results.indexOf('ok');
    assert.deepEqual((await blob.getProperties()).metadata, { racer: String(winner) });
  });

  it('If-Match block list commits from one ETag: one 201, every other 412, and the winner has its blocks', async () => {
    const blob = box.getBlockBlobClient('commit-once');
    const { etag } = await blob.upload('base', 4);
    const ids = Array.from({ length: RACERS }, (_, i) => Buffer.from(`block-${String(i).padStart(2, '0')}`).toString('base64'));
    for (const [i, id] of ids.entries()) await blob.stageBlock(id, `racer ${i}`, `racer ${i}`.length);
    const results = await outcomes(ids.map((id) => blob.commitBlockList([id], { conditions: { ifMatch: etag } })));
    assert.equal(count(results, 'ok'), 1, results.join(', '));
    assert.equal(count(results, '412 ConditionNotMet'), RACERS - 1, results.join(', '));
    assert.equal((await blob.downloadToBuffer()).toString(), `racer ${results.indexOf('ok')}`);
  });

  it('If-Match deletes from one ETag, racing an overwrite: the blob ends deleted or overwritten, never both refused', async () => {
    const blob = box.getBlockBlobClient('delete-or-write');
    const { etag } = await blob.upload('old', 3);
    const [deleted, written] = await outcomes([blob.delete({ conditions: { ifMatch: etag } }), blob.upload('new', 3, { conditions: { ifMatch: etag } })]);
    assert.equal([deleted, written].filter((r) => r === 'ok').length, 1, `${deleted}, ${written}`);
    const exists = await blob.exists();
    assert.equal(exists, written === 'ok');
    if (exists) assert.equal((await blob.downloadToBuffer()).toString(), 'new');
  });
});
