import type { BatchStore } from '../domain/batch/store.js';
import type { BlobMetadataStore } from '../domain/blob/store.js';
import { sqliteBatchStore } from './batch/store.js';
import { ExtentStore } from './blob/extentStore.js';
import { DataDirLock } from './dataDirLock.js';
import { ensurePrivateDir } from './durability/files.js';
import { postgresBatchStore } from './postgres/batchStore.js';
import { PostgresBlobStore } from './postgres/blobStore.js';
import { openPostgres } from './postgres/database.js';
import { postgresMigrations } from './postgres/schema.js';
import { openStorage } from './storage.js';
import type { StoreLocation } from '../config/store.js';

/** What a Kiln server keeps its state in: the Batch store and the Blob metadata, with blob bytes (extents) in the data directory. */
export interface ServiceStorage {
  batchStore: BatchStore;
  blobStore: BlobMetadataStore;
  extents: ExtentStore;
  lock: DataDirLock;
  /** Makes every commit made so far durable; changes are answered only after it. */
  durable(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens a server's storage. The data directory is locked either way: it holds the blob bytes and
 * this server's local nodes, whatever holds the state. On PostgreSQL the state is shared with the
 * other servers of the database (docs/postgres.md); its commits are durable once COMMIT returns.
 */
export async function openServiceStorage(dataDir: string, location: StoreLocation, opts: { orphanExtentGraceMs?: number } = {}): Promise<ServiceStorage> {
  if (location.kind === 'sqlite') {
    const storage = openStorage(dataDir, opts);
    return { ...storage, batchStore: sqliteBatchStore(storage.db), close: async () => storage.close() };
  }
  ensurePrivateDir(dataDir);
  const lock = DataDirLock.acquire(dataDir);
  try {
    const extents = new ExtentStore(dataDir, { orphanGraceMs: opts.orphanExtentGraceMs });
    const db = await openPostgres(location.url, postgresMigrations);
    return {
      batchStore: postgresBatchStore(db),
      blobStore: new PostgresBlobStore(db),
      extents,
      lock,
      durable: () => Promise.resolve(),
      async close() {
        try {
          await db.close();
        } finally {
          lock.release();
        }
      },
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}
