import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FileCommand, FileEntry, FileResult } from '../protocol/agent/messages.js';
import { inside, type NodeLayout } from './layout.js';

function entry(root: string, file: string, st: fs.Stats): FileEntry {
  return {
    name: path.relative(root, file).split(path.sep).join('/'),
    isDirectory: st.isDirectory(),
    size: st.isDirectory() ? 0 : st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.birthtimeMs || st.ctimeMs,
    mode: st.mode & 0o7777,
  };
}

function walk(root: string, dir: string, recursive: boolean, out: FileEntry[]): void {
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, d.name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(full);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) continue;
    out.push(entry(root, full, st));
    if (recursive && st.isDirectory()) walk(root, full, recursive, out);
  }
}

/** Bytes start..end (inclusive) of a file, and how many: none for an empty file. */
const bytes = (file: string, start: number, end: number): { body?: Readable; length: number } =>
  end < start ? { length: 0 } : { body: fs.createReadStream(file, { start, end }), length: end - start + 1 };

const fail = (error: 'notfound' | 'invalidrange' | 'notempty' | 'failed', message: string): { result: FileResult } => ({ result: { ok: false, error, message } });

/**
 * Answers a file request from the task and node file APIs, inside the directory it is rooted at.
 * Returns the result and, for a read, the bytes to send.
 */
export function answerFileCommand(layout: NodeLayout, command: FileCommand): { result: FileResult; body?: Readable; length?: number } {
  const base = command.root.kind === 'task' ? layout.task(command.root.jobId, command.root.taskId).taskDir : layout.rootDir;
  let target: string;
  try {
    target = inside(base, command.path || '.');
  } catch (err) {
    return fail('notfound', String(err));
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return fail('notfound', `${command.path} does not exist`);
  }
  try {
    switch (command.op) {
      case 'list': {
        if (!st.isDirectory()) return { result: { ok: true, entries: [entry(base, target, st)] } };
        const entries: FileEntry[] = [];
        walk(base, target, command.recursive ?? false, entries);
        return { result: { ok: true, entries } };
      }
      case 'stat':
        return { result: { ok: true, stat: entry(base, target, st) } };
      case 'read': {
        if (st.isDirectory()) return fail('notfound', `${command.path} is a directory`);
        const stat = entry(base, target, st);
        // Exactly the bytes the answer announces, even if the file grows meanwhile (a running
        // task's stdout.txt): the answer is sent with that Content-Length.
        if (!command.range) return { result: { ok: true, stat }, ...bytes(target, 0, st.size - 1) };
        const { start } = command.range;
        if (start >= st.size) return fail('invalidrange', `the range starts past the end of ${command.path}`);
        const end = Math.min(command.range.end ?? st.size - 1, st.size - 1);
        return { result: { ok: true, stat, range: { start, end } }, ...bytes(target, start, end) };
      }
      case 'delete': {
        if (st.isDirectory() && !command.recursive && fs.readdirSync(target).length > 0) return fail('notempty', `${command.path} is a directory that is not empty`);
        fs.rmSync(target, { recursive: true, force: true });
        return { result: { ok: true } };
      }
    }
  } catch (err) {
    return fail('failed', err instanceof Error ? err.message : String(err));
  }
}
