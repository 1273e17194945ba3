import fs from 'node:fs';
import { promisify } from 'node:util';
import { CoalescedSync } from '../durability/coalescedSync.js';
import { PRIVATE_FILE_MODE } from '../durability/files.js';

const fdatasync = promisify(fs.fdatasync);

/**
 * Group commit for a connection in WAL mode with synchronous=NORMAL: commits append to the WAL without
 * waiting for the disk, and `flush` makes every commit made before the call durable with one fdatasync
 * of the WAL, off the event loop and shared by every request that committed meanwhile. fsync acts on
 * the file, not the descriptor, so our own descriptor of the WAL flushes SQLite's writes.
 * A commit followed by `flush` is as durable as synchronous=FULL (the WAL holds every committed frame,
 * checkpoints sync the WAL before copying it, as in NORMAL); only the wait is shared.
 */
export class WalFlush {
  private fd: number;
  private readonly group = new CoalescedSync(() => this.flushNow());

  constructor(private readonly walPath: string) {
    this.fd = this.open();
  }

  flush(): Promise<void> {
    return this.group.sync();
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private async flushNow(): Promise<void> {
    await fdatasync(this.fd);
    if (this.replaced()) await fdatasync(this.fd);
  }

  /** SQLite deletes the WAL only when its last connection closes; should that ever happen, follow the new file. */
  private replaced(): boolean {
    if (fs.fstatSync(this.fd).nlink > 0) return false;
    fs.closeSync(this.fd);
    this.fd = this.open();
    return true;
  }

  private open(): number {
    return fs.openSync(this.walPath, fs.constants.O_RDONLY | fs.constants.O_CREAT, PRIVATE_FILE_MODE);
  }
}
