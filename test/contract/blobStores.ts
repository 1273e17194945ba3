import fs from 'node:fs';
import type { BlobMetadataStore } from '../../src/domain/blob/store.js';
import { SqliteBlobStore } from '../../src/persistence/blob/sqliteBlobStore.js';
import { migrations } from '../../src/persistence/migrations.js';
import { openConnection, openDatabase, walFlushOf } from '../../src/persistence/sqlite/database.js';
import { tempDir } from '../helpers/kiln.js';

/** A store over fresh, empty data, and a second handle on the same data, as a second server would hold. */
export interface OpenedBlobStore {
  store: BlobMetadataStore;
  peer: BlobMetadataStore;
  close(): Promise<void>;
}

export interface BlobStoreFactory {
  name: string;
  open(): Promise<OpenedBlobStore>;
}

/** SQLite as `kiln up` opens it: WAL, commits made durable by the group commit, in a temporary directory. */
const sqlite: BlobStoreFactory = {
  name: 'SQLite',
  async open() {
    const dir = tempDir('kiln-contract-blob-');
    const db = openDatabase(dir, migrations);
    const peerDb = openConnection(dir);
    const flush = walFlushOf(dir);
    return {
      store: new SqliteBlobStore(db, flush),
      peer: new SqliteBlobStore(peerDb, flush),
      async close() {
        flush.close();
        peerDb.close();
        db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** Every implementation of BlobMetadataStore; test/contract/blobMetadataStore.test.ts runs its contract on each. */
export const blobStoreFactories: BlobStoreFactory[] = [sqlite];
