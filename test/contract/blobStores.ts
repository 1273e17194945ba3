import fs from 'node:fs';
import { after } from 'node:test';
import type { BlobMetadataStore } from '../../src/domain/blob/store.js';
import { SqliteBlobStore } from '../../src/persistence/blob/sqliteBlobStore.js';
import { migrations } from '../../src/persistence/migrations.js';
import { openPostgres } from '../../src/persistence/postgres/database.js';
import { PostgresBlobStore } from '../../src/persistence/postgres/blobStore.js';
import { postgresMigrations } from '../../src/persistence/postgres/schema.js';
import { openConnection, openDatabase, walFlushOf } from '../../src/persistence/sqlite/database.js';
import { tempDir } from '../helpers/kiln.js';
import { freshDatabase, startPostgres, type PostgresServer } from '../helpers/postgres.js';

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

/** This test file's PostgreSQL server (docs/postgres.md), started when a suite first opens a store and stopped after the file's tests. */
let server: Promise<PostgresServer> | undefined;
after(async () => {
  await (await server)?.stop();
});

/** PostgreSQL as several Kiln servers share it: a fresh database, and a pool of its own for each handle. */
const postgres: BlobStoreFactory = {
  name: 'PostgreSQL',
  async open() {
    server ??= startPostgres();
    const url = await freshDatabase((await server).url);
    const db = await openPostgres(url, postgresMigrations);
    const peerDb = await openPostgres(url, postgresMigrations);
    return {
      store: new PostgresBlobStore(db),
      peer: new PostgresBlobStore(peerDb),
      async close() {
        await Promise.all([db.close(), peerDb.close()]);
      },
    };
  },
};

/** Every implementation of BlobMetadataStore; test/contract/blobMetadataStore.test.ts runs its contract on each. */
export const blobStoreFactories: BlobStoreFactory[] = [sqlite, postgres];
