import { ExtentStore } from './blob/extentStore.js';
import { SqliteBlobStore } from './blob/sqliteBlobStore.js';
import { DataDirLock } from './dataDirLock.js';
import { ensurePrivateDir } from './durability/files.js';
import { migrations } from './migrations.js';
import { openConnection, openDatabase, walFlushOf, type Db } from './sqlite/database.js';

/** Kiln's storage over one data directory, which it holds alone while open. */
export interface Storage {
  /**
   * The Batch store's connection. Its commits do not wait for the disk: whoever answers a change
   * (the Batch API, the agent protocol) awaits `durable()` first, one flush shared by all (group commit).
   */
  db: Db;
  /** Makes every commit made so far, by either store, durable: one fdatasync of the WAL, off the event loop. */
  durable(): Promise<void>;
  /** The Blob service's metadata, on a connection of its own whose commits share their flushes (group commit). */
  blobStore: SqliteBlobStore;
  extents: ExtentStore;
  lock: DataDirLock;
  close(): void;
}

/**
 * Opens the data directory: made private (0700) first, then locked (a second server is refused before
 * it opens the database), then the database, migrated, and the byte store.
 */
export function openStorage(dataDir: string, opts: { orphanExtentGraceMs?: number } = {}): Storage {
  ensurePrivateDir(dataDir);
  const lock = DataDirLock.acquire(dataDir);
  const opened: { close(): void }[] = [{ close: () => lock.release() }];
  const close = () => {
    for (const resource of opened.reverse()) resource.close();
  };
  try {
    const db = openDatabase(dataDir, migrations);
    opened.push(db);
    const flush = walFlushOf(dataDir);
    opened.push(flush);
    // The Blob store on a connection of its own: its commits and the Batch store's share the flush.
    const blobDb = openConnection(dataDir);
    opened.push(blobDb);
    const extents = new ExtentStore(dataDir, { orphanGraceMs: opts.orphanExtentGraceMs });
    return { db, durable: () => flush.flush(), blobStore: new SqliteBlobStore(blobDb, flush), extents, lock, close };
  } catch (err) {
    close();
    throw err;
  }
}
