import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Root's alone (0700), outside every node's root: neither tasks nor the node file API reach it. */
const IDENTITY_DIR = process.env.KILN_AGENT_STATE_DIR ?? '/var/lib/kiln/agents';

interface Stored {
  batchUrl: string;
  poolId: string;
  nodeToken: string;
}

/**
 * Which node an agent is, kept across its restarts (a host reboot, a crash): its current session's
 * node token, with which it rejoins as the same node, as an Azure node keeps its id when it reboots.
 * Without it a restarted agent would join as a new node and leave the old one unusable, counted
 * toward the pool's target. One file per node root, written aside and renamed into place (never half
 * written), fsynced; a token the server no longer takes (the node was removed) is forgotten.
 */
export class NodeTokenStore {
  private readonly file: string;

  constructor(
    rootDir: string,
    private readonly batchUrl: string,
    private readonly poolId: string,
    dir = IDENTITY_DIR,
  ) {
    this.file = path.join(dir, `${crypto.createHash('sha256').update(path.resolve(rootDir)).digest('hex').slice(0, 16)}.json`);
  }

  /** The node token of the last session, if this root last served this pool of this server. */
  load(): string | undefined {
    let stored: Partial<Stored>;
    try {
      stored = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Partial<Stored>;
    } catch {
      return undefined;
    }
    const same = stored.batchUrl === this.batchUrl && stored.poolId?.toLowerCase() === this.poolId.toLowerCase();
    return same && typeof stored.nodeToken === 'string' ? stored.nodeToken : undefined;
  }

  save(nodeToken: string): void {
    const dir = path.dirname(this.file);
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const aside = `${this.file}.${process.pid}`;
    const fd = fs.openSync(aside, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify({ batchUrl: this.batchUrl, poolId: this.poolId, nodeToken } satisfies Stored));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(aside, this.file);
    const dirFd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  }

  forget(): void {
    fs.rmSync(this.file, { force: true });
  }
}
