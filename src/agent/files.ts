import fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { FileCommand, FileEntry, FileResult } from '../protocol/agent/messages.js';
import { confinedComponents, ConfinedPathError } from './fs/confinedPath.js';
import { PinnedDir } from './fs/pinnedDir.js';
import type { NodeLayout } from './layout.js';
import { isRetentionMarker } from './retention.js';

/** The node's own directories: the node file API never deletes them (nor the node's root). */
const NODE_DIRS = new Set(['shared', 'startup', 'workitems', 'fsmounts']);

function entry(name: string, st: fs.Stats): FileEntry {
  return {
    name,
    isDirectory: st.isDirectory(),
    size: st.isDirectory() ? 0 : st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.birthtimeMs || st.ctimeMs,
    mode: st.mode & 0o7777,
  };
}

/** Paths the file APIs never show: the agent's own files among the tasks' (node paths only). */
type Hidden = (shownPath: string) => boolean;

/** Lists a directory held open; links are neither listed nor entered. */
function walk(dir: PinnedDir, prefix: string, recursive: boolean, out: FileEntry[], hidden: Hidden): void {
  for (const name of dir.names()) {
    if (hidden(prefix + name)) continue;
    let st: fs.Stats;
    try {
      st = dir.lstat(name);
    } catch {
      continue; // gone meanwhile
    }
    if (st.isSymbolicLink()) continue;
    out.push(entry(prefix + name, st));
    if (!recursive || !st.isDirectory()) continue;
    let child: PinnedDir;
    try {
      child = dir.dir(name);
    } catch {
      continue; // swapped for something else meanwhile
    }
    try {
      walk(child, `${prefix}${name}/`, recursive, out, hidden);
    } finally {
      child.close();
    }
  }
}

/** Bytes start..end (inclusive) of an open file, and how many: none for an empty file. */
function bytes(fd: number, start: number, end: number): { body?: Readable; length: number } {
  if (end < start) {
    fs.closeSync(fd);
    return { length: 0 };
  }
  return { body: fs.createReadStream('', { fd, start, end }), length: end - start + 1 };
}

const fail = (error: Extract<FileResult, { ok: false }>['error'], message: string): { result: FileResult } => ({ result: { ok: false, error, message } });

type Answer = { result: FileResult; body?: Readable; length?: number };

/**
 * Answers a file request from the task and node file APIs, inside the directory it is rooted at.
 * Returns the result and, for a read, the bytes to send. Never throws. The path is resolved from
 * that directory held open, one component at a time, never through a link: a path that would
 * leave it through one is not found, as one that leaves it lexically.
 */
export function answerFileCommand(layout: NodeLayout, command: FileCommand): Answer {
  let base: string;
  try {
    base = command.root.kind === 'task' ? layout.task(command.root.jobId, command.root.taskId).taskDir : layout.rootDir;
  } catch {
    return fail('notfound', 'no such task directory'); // an id that cannot name a directory names none
  }
  try {
    const components = confinedComponents(command.path || '.');
    if (command.op === 'delete' && (components.length === 0 || (command.root.kind === 'node' && components.length === 1 && NODE_DIRS.has(components[0]!)))) {
      return fail('forbidden', `${command.path} is a directory the node needs and cannot be deleted`);
    }
    const root = PinnedDir.open(base);
    try {
      const parent = root.walk(components.slice(0, -1));
      try {
        return answerAt(parent, components, command);
      } finally {
        parent.close();
      }
    } finally {
      root.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof ConfinedPathError || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENXIO') return fail('notfound', `${command.path} does not exist`);
    return fail('failed', err instanceof Error ? err.message : String(err));
  }
}

/** The request on its last component, in `parent` held open (the root itself when there is none). */
function answerAt(parent: PinnedDir, components: string[], command: FileCommand): Answer {
  const name = components[components.length - 1];
  const shown = components.join('/');
  const hidden: Hidden = command.root.kind === 'node' ? isRetentionMarker : () => false;
  if (hidden(shown)) return fail('notfound', `${command.path} does not exist`);
  const st = name === undefined ? parent.stat() : parent.lstat(name);
  if (st.isSymbolicLink() && command.op !== 'delete') return fail('notfound', `${command.path} is a symbolic link`);
  // The target directory, held open apart from `parent` (the caller closes it).
  const openTarget = (): PinnedDir => (name === undefined ? parent.walk([]) : parent.dir(name));
  switch (command.op) {
    case 'list': {
      if (!st.isDirectory()) return { result: { ok: true, entries: [entry(shown, st)] } };
      const entries: FileEntry[] = [];
      const dir = openTarget();
      try {
        walk(dir, shown ? `${shown}/` : '', command.recursive ?? false, entries, hidden);
      } finally {
        dir.close();
      }
      return { result: { ok: true, entries } };
    }
    case 'stat':
      if (!st.isDirectory()) parent.checkReadable(name!, st);
      return { result: { ok: true, stat: entry(shown, st) } };
    case 'read': {
      if (st.isDirectory() || name === undefined) return fail('notfound', `${command.path} is a directory`);
      const { fd, stat: opened } = parent.openFile(name);
      const stat = entry(shown, opened);
      // Exactly the bytes the answer announces, even if the file grows meanwhile (a running
      // task's stdout.txt): the answer is sent with that Content-Length.
      if (!command.range) return { result: { ok: true, stat }, ...bytes(fd, 0, opened.size - 1) };
      const { start } = command.range;
      if (start >= opened.size) {
        fs.closeSync(fd);
        return fail('invalidrange', `the range starts past the end of ${command.path}`);
      }
      const end = Math.min(command.range.end ?? opened.size - 1, opened.size - 1);
      return { result: { ok: true, stat, range: { start, end } }, ...bytes(fd, start, end) };
    }
    case 'delete': {
      if (st.isDirectory() && !command.recursive) {
        const dir = openTarget();
        let empty: boolean;
        try {
          empty = dir.names().length === 0;
        } finally {
          dir.close();
        }
        if (!empty) return fail('notempty', `${command.path} is a directory that is not empty`);
      }
      // A link is removed itself, never followed; a directory by descriptor, entry by entry.
      parent.remove(name!);
      return { result: { ok: true } };
    }
  }
}
