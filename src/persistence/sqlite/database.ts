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
 * Opens Kiln's one embedded database, migrated. Its commits do not wait for the disk
 * (synchronous=NORMAL): whoever answers a change first awaits a WalFlush, shared by every commit made
 * meanwhile (group commit), so an answered change survives a power loss. The file and its WAL and
 * shared-memory companions are 0600 (SQLite gives the companions the database file's mode).
 */
export function openDatabase(dataDir: string, migrations: Migration[]): Db {
  ensurePrivateDir(dataDir);
  // Created here, before any connection: closing a descriptor later would drop SQLite's locks.
  const file = path.join(dataDir, DATABASE_FILE);
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE));
  const db = connect(dataDir);
  migrate(db, migrations);
  // The names of a database created just now, and of its WAL, are durable too.
  fsyncDirSync(dataDir);
  return db;
}

/** Another connection to the database `openDatabase` opened, with the same group commit. */
export const openConnection = (dataDir: string): Db => connect(dataDir);

/** The flush of the database's one WAL: it covers the commits of every connection. */
export const walFlushOf = (dataDir: string): WalFlush => new WalFlush(path.join(dataDir, DATABASE_FILE) + '-wal');

function connect(dataDir: string): Db {
  const file = path.join(dataDir, DATABASE_FILE);
  for (const name of ['', ...COMPANIONS]) makePrivateIfExists(file + name);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
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
