import { ExtentStore } from './blob/extentStore.js';
import { SqliteBlobStore } from './blob/sqliteBlobStore.js';
import { DataDirLock } from './dataDirLock.js';
import { ensurePrivateDir } from './durability/files.js';
import { migrations } from './migrations.js';
import { openDatabase, openGroupCommitConnection, type Db } from './sqlite/database.js';

/** Kiln's storage over one data directory, which it holds alone while open. */
export interface Storage {
  /** The Batch store's connection: synchronous, each commit durable when it returns (synchronous=FULL). */
  db: Db;
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
    const blob = openGroupCommitConnection(dataDir);
    opened.push(blob.db, blob.flush);
    const extents = new ExtentStore(dataDir, { orphanGraceMs: opts.orphanExtentGraceMs });
    return { db, blobStore: new SqliteBlobStore(blob.db, blob.flush), extents, lock, close };
  } catch (err) {
    close();
    throw err;
  }
}
