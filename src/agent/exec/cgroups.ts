import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * cgroup v2 groups that hold a node's task runs: `<cgroup2 mount>/kiln/<node>/<agent>/<run>`.
 *
 * Why cgroups: a process cannot leave its cgroup without write access to `cgroup.procs` files that
 * are root's, whatever it does to its environment, process group or session (setsid, double fork),
 * and writing `1` to `cgroup.kill` SIGKILLs every process of a group and of its descendants at once,
 * forks in flight included (Linux ≥ 5.14). So a run's processes are found and killed by where they
 * are, not by anything they can change. Only v2 has `cgroup.kill`; without it (no writable cgroup2
 * mount, an older kernel) `available()` is false and runs fall back to process groups
 * (exec/containment.ts says what that cannot promise).
 */

const KILN_DIR = 'kiln';

interface Hierarchy {
  /** <mount>/kiln: every node's groups. */
  root: string;
  /** The group this process was started in (the launcher's too). */
  home: string;
}

let probed: Hierarchy | null | undefined;

/** The cgroup2 mount point and this process's place in it, from /proc/self/{mountinfo,cgroup}. */
function probe(): Hierarchy | null {
  // For hosts that must not have Kiln's groups, and for tests of the fallback.
  if (process.env.KILN_RUN_CGROUPS === 'off') return null;
  try {
    // mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS"
    const entry = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((line) => line.split(' - '))
      .find(([, after]) => after?.startsWith('cgroup2 '));
    const mount = entry?.[0]?.split(' ')[4];
    const own = /^0::(\/.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
    if (!mount || own === undefined) return null;
    const root = path.join(mount, KILN_DIR);
    fs.mkdirSync(root, { recursive: true });
    if (!fs.existsSync(path.join(root, 'cgroup.kill'))) return null;
    return { root, home: path.join(mount, own) };
  } catch {
    return null; // not mounted, read-only, or not ours to write
  }
}

const hierarchy = (): Hierarchy | null => (probed ??= probe());

export const available = (): boolean => hierarchy() !== null;

/** The group this process was started in, if runs have groups. */
export const homeDir = (): string | undefined => hierarchy()?.home;

/** All groups of the node whose root directory this is (every agent that ever ran it). */
export function nodeGroupDir(rootDir: string): string | undefined {
  const h = hierarchy();
  if (!h) return undefined;
  return path.join(h.root, crypto.createHash('sha256').update(path.resolve(rootDir)).digest('hex').slice(0, 16));
}

export const makeGroup = (dir: string): void => void fs.mkdirSync(dir, { recursive: true });

/** SIGKILLs every process in the group and its descendants; a group already gone is fine. */
export function killGroup(dir: string): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function populated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8'));
  } catch {
    return false;
  }
}

/** Removes a group and the groups below it; false while a process is still in one (EBUSY). */
export function removeGroup(dir: string): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return true;
  }
  let removed = true;
  for (const entry of entries) if (entry.isDirectory()) removed = removeGroup(path.join(dir, entry.name)) && removed;
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return removed;
    if (code === 'EBUSY' || code === 'ENOTEMPTY') return false;
    throw err;
  }
}

/** Removes a group that holds no process and no group (another agent's may still be there). */
export function removeGroupIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // in use, or gone
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Kills a group's processes and waits (blocking, bounded) until none is left, then removes the
 * group. For the paths that must not go on while a run may live: an agent that died, a node that
 * stops. SIGKILLed processes are gone within milliseconds unless stuck in the kernel.
 */
export function killAndRemove(dir: string, timeoutMs = 5000): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    killGroup(dir);
    if (!populated(dir) && removeGroup(dir)) return true;
    if (Date.now() > deadline) return false;
    Atomics.wait(pause, 0, 0, 2);
  }
}
