import fs from 'node:fs';
import path from 'node:path';

/**
 * Non-admin tasks run as unprivileged users inside node directories: every folder above a node root
 * must let other users through (o+x), or each task fails with "file not found" on its own files. A
 * private parent (a 0700 home or mktemp folder) is an easy mistake, so `kiln up` and `kiln agent`
 * refuse it at start with the folder to fix rather than let every task fail later.
 */
export function unsearchableAncestor(dir: string): string | undefined {
  let at = path.resolve(dir);
  for (;;) {
    const mode = statMode(at);
    if (mode !== undefined && (mode & 0o001) === 0) return at;
    const parent = path.dirname(at);
    if (parent === at) return undefined;
    at = parent;
  }
}

function statMode(p: string): number | undefined {
  try {
    return fs.statSync(p).mode;
  } catch {
    return undefined; // not made yet: Kiln makes it 0755
  }
}

/** `dir` and the folders above it (`dir` itself only when Kiln does not set its mode). */
export function assertSearchableByTasks(dir: string, flag: string, { self = true } = {}): void {
  const blocked = unsearchableAncestor(self ? dir : path.dirname(path.resolve(dir)));
  if (blocked) {
    throw new Error(
      `${flag} ${dir}: ${blocked} does not let other users through, so non-admin tasks could not reach their files; chmod o+x ${blocked}, or choose another directory`,
    );
  }
}

/** Makes a directory of Kiln's own (root's) passable by other users, as its local nodes below need. */
export function letTasksThrough(dir: string): void {
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat && stat.uid === 0 && (stat.mode & 0o001) === 0) fs.chmodSync(dir, (stat.mode & 0o7777) | 0o055);
}
