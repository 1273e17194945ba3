import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/** A schema step: applied once, in order, inside a transaction; user_version records how far we got. */
export interface Migration {
  name: string;
  sql: string;
}

/**
 * Opens Kiln's one embedded database. WAL with synchronous=NORMAL makes every committed transaction
 * survive a kill -9 of the process (the WAL is in the OS page cache), without an fsync per request.
 */
export function openDatabase(dataDir: string, migrations: Migration[]): Db {
  fs.mkdirSync(dataDir, { recursive: true });
  const db = new Database(path.join(dataDir, 'kiln.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
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
