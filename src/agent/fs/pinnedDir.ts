import fs from 'node:fs';
import path from 'node:path';
import { ConfinedPathError } from './confinedPath.js';

/*
 * The root agent works in directories that tasks write to. Any path it resolves by name there could
 * meet a symlink or a hard link a task planted, or a component a task swaps between a check and the
 * use. Node has no openat(2), so it is emulated: a directory is held open by descriptor (pinned) and
 * each name is resolved from it as /proc/self/fd/<fd>/<name>, one component at a time, with
 * O_NOFOLLOW. The kernel resolves the name in the pinned directory wherever that directory is now,
 * so nothing a task renames meanwhile matters, and a link is refused instead of followed. Nothing
 * existing is ever opened for writing: names are removed (unlink does not follow) and created anew
 * with O_EXCL, and ownership is set with fchown on the new descriptor, never by path.
 */

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = fs.constants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/** Fails on any existing name, a link included: no existing inode is ever written through. */
export const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
/** O_NONBLOCK: opening a FIFO a task made must not hang the agent; it changes nothing for files. */
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
/** How often a removal retries when a task keeps changing what it removes. */
const REMOVE_ATTEMPTS = 10;

/** Who owns what the agent makes for a task: the task's user. */
export interface Owner {
  uid: number;
  gid: number;
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

function checkName(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new ConfinedPathError(`"${name.replaceAll('\0', '\\0')}" is not a file name`);
  }
  return name;
}

/** A directory held open by descriptor; every name below it is resolved from it, never through a link. */
export class PinnedDir {
  private closed = false;

  private constructor(
    readonly fd: number,
    /** Where it was when opened: for messages only, never to resolve anything. */
    readonly path: string,
  ) {}

  /**
   * Opens a directory whose every component the agent itself laid out (the node root, workitems,
   * a job's directory, a task's directory): no task can write to any of them. `create` makes it first.
   */
  static open(dirPath: string, opts: { create?: boolean } = {}): PinnedDir {
    if (opts.create) fs.mkdirSync(dirPath, { recursive: true, mode: 0o755 });
    return new PinnedDir(openDirectory(dirPath, dirPath), dirPath);
  }

  /** The name resolved in this very directory by the kernel: /proc/self/fd/<fd>/<name>. */
  entry(name: string): string {
    return `/proc/self/fd/${this.fd}/${checkName(name)}`;
  }

  /** This directory's own status (fstat). */
  stat(): fs.Stats {
    return fs.fstatSync(this.fd);
  }

  /** A name's status, without following it if it is a link. */
  lstat(name: string): fs.Stats {
    return fs.lstatSync(this.entry(name));
  }

  names(): string[] {
    return fs.readdirSync(`/proc/self/fd/${this.fd}`);
  }

  /** A subdirectory, never through a link; with `create`, made if missing and then owned by `create.owner`. */
  dir(name: string, create?: { owner?: Owner }): PinnedDir {
    let made = false;
    if (create) {
      try {
        fs.mkdirSync(this.entry(name), { mode: 0o755 });
        made = true;
      } catch (err) {
        if (errno(err) !== 'EEXIST') throw err;
      }
    }
    const child = new PinnedDir(openDirectory(this.entry(name), `${this.path}/${name}`), `${this.path}/${name}`);
    if (made && create?.owner) {
      try {
        fs.fchownSync(child.fd, create.owner.uid, create.owner.gid);
      } catch (err) {
        child.close();
        throw err;
      }
    }
    return child;
  }

  /** Walks `components` down from here, closing each directory on the way; none: a second handle on this one. */
  walk(components: readonly string[], create?: { owner?: Owner }): PinnedDir {
    let current = new PinnedDir(openDirectory(`/proc/self/fd/${this.fd}/.`, this.path), this.path);
    for (const name of components) {
      try {
        const next = current.dir(name, create);
        current.close();
        current = next;
      } catch (err) {
        current.close();
        throw err;
      }
    }
    return current;
  }

  /**
   * Creates `name` afresh for writing (whatever was there removed first, without following it), owned
   * by `owner`: a synchronous descriptor, for stdout.txt and stderr.txt.
   */
  createFile(name: string, owner?: Owner, mode = 0o644): number {
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        // O_EXCL first: a new task's directory has nothing there, and a removal that finds nothing
        // costs a system call and an exception per file. What is there (a retry's file, or anything
        // a task made again after a removal) fails with EEXIST, is removed, and the creation is tried again.
        fd = fs.openSync(this.entry(name), CREATE_FLAGS, mode);
      } catch (err) {
        if (errno(err) === 'EEXIST' && attempt < REMOVE_ATTEMPTS) {
          this.remove(name);
          continue;
        }
        throw err;
      }
      try {
        if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
        return fd;
      } catch (err) {
        fs.closeSync(fd);
        throw err;
      }
    }
  }

  /** Renames within this directory; a link or file at `to` is replaced, never followed. */
  rename(from: string, to: string): void {
    fs.renameSync(this.entry(from), this.entry(to));
  }

  /**
   * Opens a regular file for reading. Refused: a link, anything but a regular file, and a file with
   * other hard links unless the owner of this directory owns it (a task can link a file it cannot
   * read into its own directory, for the agent to read for it).
   */
  openFile(name: string): { fd: number; stat: fs.Stats } {
    let fd: number;
    try {
      fd = fs.openSync(this.entry(name), READ_FLAGS);
    } catch (err) {
      if (errno(err) === 'ELOOP') throw new ConfinedPathError(`${this.path}/${name} is a symbolic link`);
      throw err;
    }
    try {
      const stat = fs.fstatSync(fd);
      this.checkReadable(name, stat);
      return { fd, stat };
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** Opens the regular file at `components` below this directory (see openFile): the file and its size. */
  openFileAt(components: readonly string[]): { fd: number; stat: fs.Stats } {
    if (components.length === 0) throw new ConfinedPathError(`${this.path} is a directory`);
    const parent = this.walk(components.slice(0, -1));
    try {
      return parent.openFile(components[components.length - 1]!);
    } finally {
      parent.close();
    }
  }

  /** Throws unless `stat` (of `name` in this directory) is a file the agent may read for a task. */
  checkReadable(name: string, stat: fs.Stats): void {
    if (stat.isSymbolicLink()) throw new ConfinedPathError(`${this.path}/${name} is a symbolic link`);
    if (!stat.isFile()) throw new ConfinedPathError(`${this.path}/${name} is not a regular file`);
    if (stat.nlink > 1) {
      const dir = this.stat();
      // A directory others may write to (shared/, 1777) vouches for nothing linked into it.
      if (stat.uid !== dir.uid || (dir.mode & 0o022) !== 0) throw new ConfinedPathError(`${this.path}/${name} has other hard links and is not its directory owner's`);
    }
  }

  /**
   * Removes `name` and, if it is a directory, everything in it: links are removed, never followed,
   * and each directory is entered by descriptor, so a task swapping names meanwhile cannot steer the
   * removal elsewhere. Nothing there is fine.
   */
  remove(name: string): void {
    for (let attempt = 0; attempt < REMOVE_ATTEMPTS; attempt++) {
      try {
        fs.unlinkSync(this.entry(name));
        return;
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        if (errno(err) !== 'EISDIR') throw err;
      }
      let child: PinnedDir;
      try {
        child = this.dir(name);
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        if (err instanceof ConfinedPathError) continue; // swapped for a file or a link meanwhile: unlink that
        throw err;
      }
      try {
        for (const inner of child.names()) child.remove(inner);
      } finally {
        child.close();
      }
      try {
        fs.rmdirSync(this.entry(name));
        return;
      } catch (err) {
        if (errno(err) === 'ENOENT') return;
        // Refilled or swapped meanwhile: go again.
        if (errno(err) !== 'ENOTEMPTY' && errno(err) !== 'EEXIST' && errno(err) !== 'ENOTDIR') throw err;
      }
    }
    throw new Error(`${this.path}/${name} kept changing while it was removed`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

function openDirectory(resolvable: string, shown: string): number {
  try {
    return fs.openSync(resolvable, DIR_FLAGS);
  } catch (err) {
    // ELOOP: a symbolic link (O_NOFOLLOW); ENOTDIR: a file where a directory should be.
    if (errno(err) === 'ELOOP' || errno(err) === 'ENOTDIR') throw new ConfinedPathError(`${shown} is not a directory (a link or a file)`);
    throw err;
  }
}

/** Removes a directory tree the agent laid out (a task's or a job's directory), safely: see PinnedDir.remove. */
export function removeTree(dirPath: string): void {
  inParent(dirPath, (parent, name) => parent.remove(name));
}

/** Runs `use` on the directory that holds `dirPath`, opened safely, unless that directory is gone. */
function inParent(dirPath: string, use: (parent: PinnedDir, name: string) => void): void {
  let parent: PinnedDir;
  try {
    parent = PinnedDir.open(path.dirname(dirPath));
  } catch (err) {
    if (errno(err) === 'ENOENT') return;
    throw err;
  }
  try {
    use(parent, path.basename(dirPath));
  } finally {
    parent.close();
  }
}

/**
 * Removes a directory the agent laid out if nothing is left in it; anything in it keeps it. rmdir
 * removes no link and follows none: a link or file put in its place stays too.
 */
export function removeIfEmpty(dirPath: string): void {
  inParent(dirPath, (parent, name) => {
    try {
      fs.rmdirSync(parent.entry(name));
    } catch (err) {
      if (!['ENOENT', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes(errno(err) ?? '')) throw err;
    }
  });
}

/** Runs `use` with `dir` open, closing it after, however `use` ends. */
export async function withDir<T>(dir: PinnedDir, use: (dir: PinnedDir) => Promise<T> | T): Promise<T> {
  try {
    return await use(dir);
  } finally {
    dir.close();
  }
}
