import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDir, fsyncDirSync, makePrivateIfExists, PRIVATE_FILE_MODE } from '../durability/files.js';
import { WalFlush } from './walFlush.js';

export type Db = Database.Database;

/** A schema step: applied once, in order, inside a transaction; user_version records how far we got. */
export interface Migration {
  name: string;
  sql: string;
}

export const DATABASE_FILE = 'kiln.sqlite';
/** SQLite's own companions of the database file. */
const COMPANIONS = ['-wal', '-shm', '-journal'];

/**
 * Opens Kiln's one embedded database, migrated, with synchronous=FULL: every commit is on the disk when
 * it returns (WAL fsynced), so an answered change survives a power loss. The file and its WAL and
 * shared-memory companions are 0600 (SQLite gives the companions the database file's mode).
 */
export function openDatabase(dataDir: string, migrations: Migration[]): Db {
  ensurePrivateDir(dataDir);
  // Created here, before any connection: closing a descriptor later would drop SQLite's locks.
  const file = path.join(dataDir, DATABASE_FILE);
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE));
  const db = connect(dataDir, 'FULL');
  migrate(db, migrations);
  // The names of a database created just now, and of its WAL, are durable too.
  fsyncDirSync(dataDir);
  return db;
}

/**
 * A second connection to a database `openDatabase` opened, for a store that answers asynchronously: its
 * commits do not wait for the disk (synchronous=NORMAL) and `flush` makes them durable together (group
 * commit, see WalFlush). A caller answers a change only after `await flush.flush()`.
 */
export function openGroupCommitConnection(dataDir: string, shared?: WalFlush): { db: Db; flush: WalFlush } {
  const db = connect(dataDir, 'NORMAL');
  // One WAL for every connection: one flush covers the commits of all of them.
  return { db, flush: shared ?? new WalFlush(path.join(dataDir, DATABASE_FILE) + '-wal') };
}

function connect(dataDir: string, synchronous: 'FULL' | 'NORMAL'): Db {
  const file = path.join(dataDir, DATABASE_FILE);
  for (const name of ['', ...COMPANIONS]) makePrivateIfExists(file + name);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

function migrate(db: Db, migrations: Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  migrations.slice(current).forEach((migration, i) => {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${current + i + 1}`);
    })();
  });
}
