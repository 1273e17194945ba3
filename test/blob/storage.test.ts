import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { BlobService, UNCOMMITTED_BLOCK_LIFETIME_MS } from '../../src/domain/blob/service.js';
import { ExtentStore } from '../../src/persistence/blob/extentStore.js';
import { SqliteBlobStore } from '../../src/persistence/blob/sqliteBlobStore.js';
import { migrations } from '../../src/persistence/migrations.js';
import { openDatabase } from '../../src/persistence/sqlite/database.js';
import { countExtents, tempDir, waitFor } from '../helpers/kiln.js';

// The storage layers in-process, on real SQLite and real files, with a clock the test moves.
describe('blob storage housekeeping', () => {
  const dir = tempDir('kiln-storage-');
  const db = openDatabase(dir, migrations);
  let now = Date.UTC(2026, 0, 1);
  const service = new BlobService(new SqliteBlobStore(db), new ExtentStore(dir), () => now);
  after(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const stage = (blob: string, id: string, text: string) =>
    service.blocks.stage('acct', 'box', blob, Buffer.from(id).toString('base64'), Readable.from([Buffer.from(text)]), { maxLength: 1 << 20 });

  it('expires uncommitted blocks after a week and reclaims their space', async () => {
    await service.containers.create('acct', 'box', {}, undefined);
    await stage('old', 'b1', 'stale');
    now += UNCOMMITTED_BLOCK_LIFETIME_MS / 2;
    await stage('fresh', 'b1', 'recent');
    assert.equal(countExtents(dir), 2);
    now += UNCOMMITTED_BLOCK_LIFETIME_MS / 2 + 1;
    const { expiredBlocks } = await service.collectGarbage();
    assert.equal(expiredBlocks, 1);
    assert.equal(countExtents(dir), 1);
    await assert.rejects(() => service.blocks.list('acct', 'box', 'old', 'all'), { code: 'BlobNotFound' });
    assert.deepEqual(
      (await service.blocks.list('acct', 'box', 'fresh', 'uncommitted')).uncommitted.map((b) => b.size),
      [6],
    );
  });

  it('replaces a block staged twice under one id, freeing the first', async () => {
    await stage('twice', 'bb', 'first');
    await stage('twice', 'bb', 'second!');
    assert.deepEqual(
      (await service.blocks.list('acct', 'box', 'twice', 'all')).uncommitted.map((b) => b.size),
      [7],
    );
    assert.equal(countExtents(dir), 2);
  });

  it('keeps bytes being read until the read ends, even when the blob is deleted', async () => {
    await service.blobs.put('acct', 'box', 'read-me', Readable.from([Buffer.alloc(3 << 20, 9)]), {
      properties: {},
      metadata: {},
      conditions: {},
      maxLength: 8 << 20,
      expectedLength: 3 << 20,
    });
    const { body } = await service.blobs.read('acct', 'box', 'read-me', undefined, {});
    const before = countExtents(dir);
    await service.blobs.delete('acct', 'box', 'read-me', {});
    let length = 0;
    for await (const chunk of body) length += (chunk as Buffer).length;
    assert.equal(length, 3 << 20);
    await waitFor('the extent to be removed once its reader is done', () => (countExtents(dir) === before - 1 ? true : undefined));
  });
});
