import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PRIVATE_FILE_MODE } from './durability/files.js';

const LOCK_FILE = 'server.lock';
const HOLDER_FILE = 'server.json';

/** Who holds a data directory, as the holder recorded it. */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  blobPort?: number;
  batchPort?: number;
}

export class DataDirInUseError extends Error {
  constructor(dataDir: string, holder: LockHolder | undefined) {
    const who = holder
      ? `the Kiln server pid ${holder.pid} on ${holder.host}` +
        (holder.blobPort !== undefined ? ` (Blob port ${holder.blobPort}, Batch port ${holder.batchPort})` : '') +
        `, started ${holder.startedAt}`
      : 'another Kiln server (it has not recorded itself yet)';
    super(`the data directory ${dataDir} is in use by ${who}; one server per data directory: stop it, or give another --data`);
  }
}

/**
 * One server per data directory. The lock is an SQLite database held in EXCLUSIVE locking mode: its
 * lock is a POSIX record lock that the kernel drops when the holder exits however it exits (kill -9,
 * power loss), so no lock is ever stale and no pid is ever guessed at; it also holds across processes
 * of one host and, where the file system supports record locks (NFS with lockd), across hosts.
 * A lock file created with O_EXCL would outlive a kill -9 and need a liveness rule on a recorded pid,
 * which pid reuse and other hosts defeat. The holder's pid, host and ports sit beside it in
 * server.json, only to name it in the refusal.
 */
export class DataDirLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly dir: string,
    private readonly holderFile: string,
    private holder: LockHolder,
  ) {}

  static acquire(dataDir: string): DataDirLock {
    const lockFile = path.join(dataDir, LOCK_FILE);
    const holderFile = path.join(dataDir, HOLDER_FILE);
    // Closing any descriptor of a file drops every record lock this process holds on it: a lock
    // held here is checked without opening the file again.
    if (heldHere.has(fs.realpathSync(dataDir))) throw new DataDirInUseError(dataDir, readHolder(holderFile));
    fs.closeSync(fs.openSync(lockFile, 'a', PRIVATE_FILE_MODE));
    fs.chmodSync(lockFile, PRIVATE_FILE_MODE);
    const db = new Database(lockFile, { timeout: 0 });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = MEMORY');
      // The first write takes the EXCLUSIVE lock; in this locking mode it is kept until close.
      db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (at TEXT); DELETE FROM held; INSERT INTO held VALUES (datetime()); COMMIT');
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir, readHolder(holderFile));
      throw err;
    }
    const lock = new DataDirLock(db, fs.realpathSync(dataDir), holderFile, { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() });
    heldHere.add(lock.dir);
    lock.record();
    return lock;
  }

  /** Records the ports once the services listen, for a refused second server to name them. */
  listening(ports: { blobPort: number; batchPort: number }): void {
    this.holder = { ...this.holder, ...ports };
    this.record();
  }

  release(): void {
    if (readHolder(this.holderFile)?.pid === this.holder.pid) fs.rmSync(this.holderFile, { force: true });
    this.db.close();
    heldHere.delete(this.dir);
  }

  private record(): void {
    const temp = `${this.holderFile}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(this.holder) + '\n', { mode: PRIVATE_FILE_MODE });
    fs.renameSync(temp, this.holderFile);
  }
}

/** The data directories this process holds (by real path). */
const heldHere = new Set<string>();

function readHolder(file: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
}
