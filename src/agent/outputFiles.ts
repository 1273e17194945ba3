import fs from 'node:fs';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { componentsBelow } from './fs/confinedPath.js';
import { PinnedDir } from './fs/pinnedDir.js';
import { redact } from './resourceFiles.js';
import { TransferStatusError, withRetries, type Attempt } from './transfers.js';

export type UploadCondition = 'tasksuccess' | 'taskfailure' | 'taskcompletion';

export interface OutputFileSpec {
  filePattern: string;
  destination: { container?: { containerUrl: string; path?: string; uploadHeaders?: { name: string; value?: string }[] } };
  uploadOptions: { uploadCondition: UploadCondition };
}

export interface UploadFailure {
  filePattern: string;
  message: string;
}

const hasWildcard = (pattern: string): boolean => /[*?[\]{}]/.test(pattern);

/** The directory part of a pattern before its first wildcard: blob names are relative to it. */
function wildcardRoot(pattern: string): string {
  const parts = pattern.split('/');
  const fixed: string[] = [];
  for (const part of parts) {
    if (hasWildcard(part)) break;
    fixed.push(part);
  }
  return fixed.join('/');
}

/**
 * Uploads an open file's first `size` bytes (all it had when opened), closing the descriptor.
 * Tried as transfers are (transfers.ts): each attempt reads the file again from its start.
 */
async function putBlob(containerUrl: string, blobName: string, file: { fd: number; size: number }, headers: Record<string, string>): Promise<void> {
  const url = new URL(containerUrl);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${blobName.split('/').map(encodeURIComponent).join('/')}`;
  const { fd, size } = file;
  const target = redact(url.toString());
  try {
    await withRetries(`uploading to ${target}`, async (attempt) => {
      // Each attempt reads through a descriptor of its own onto the same open file (a stream closes
      // its descriptor when destroyed): /proc/self/fd reopens the file itself, never a path. Opened
      // only once the body is read: an attempt refused at connect opens nothing.
      let stream: fs.ReadStream | undefined;
      const open = () => (stream = fs.createReadStream('', { fd: fs.openSync(`/proc/self/fd/${fd}`, 'r'), start: 0, end: size - 1 }));
      try {
        const response = await fetch(url, {
          method: 'PUT',
          headers: { ...headers, 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-12-02', 'Content-Length': String(size) },
          body: size === 0 ? '' : chunksOf(open, attempt),
          duplex: 'half',
          signal: attempt.signal,
        } as RequestInit);
        await response.arrayBuffer();
        if (!response.ok) {
          const code = response.headers.get('x-ms-error-code') ?? '';
          throw new TransferStatusError(`uploading to ${target} answered ${response.status} ${code}`.trim(), response.status);
        }
      } finally {
        stream?.destroy();
      }
    });
  } finally {
    fs.closeSync(fd);
  }
}

/** A file's bytes as a request body, telling the attempt of each chunk read (read as fast as the socket takes them). */
async function* chunksOf(open: () => fs.ReadStream, attempt: Attempt): AsyncGenerator<Buffer> {
  for await (const chunk of open()) {
    attempt.progress();
    yield chunk as Buffer;
  }
}

/**
 * Opens, from the task directory held open, the file at `components` below it: never through a
 * link, and only a regular file (see PinnedDir.openFile), so a task cannot have the root agent
 * upload a file the task itself may not read.
 */
function openOutput(taskDir: PinnedDir, components: string[]): { fd: number; size: number } {
  const { fd, stat } = taskDir.openFileAt(components);
  return { fd, size: stat.size };
}

/**
 * Uploads a finished task's output files whose condition holds. Patterns are relative to the
 * working directory and may reach up into the task directory (`../std*.txt`), never beyond it,
 * and never through a link.
 */
export async function uploadOutputFiles(specs: OutputFileSpec[], dirs: { taskDir: string; workingDir: string }, succeeded: boolean): Promise<UploadFailure[]> {
  const failures: UploadFailure[] = [];
  let taskDir: PinnedDir | undefined;
  // Opened on the first upload only: tasks without output files pay nothing.
  const pinned = (): PinnedDir => (taskDir ??= PinnedDir.open(dirs.taskDir));
  try {
    for (const spec of specs) {
      const condition = spec.uploadOptions.uploadCondition.toLowerCase();
      if ((condition === 'tasksuccess' && !succeeded) || (condition === 'taskfailure' && succeeded)) continue;
      const container = spec.destination.container;
      if (!container) continue;
      try {
        const headers = Object.fromEntries((container.uploadHeaders ?? []).map((h) => [h.name, h.value ?? '']));
        const pattern = spec.filePattern.replaceAll('\\', '/');
        if (!hasWildcard(pattern)) {
          const components = componentsBelow(dirs.taskDir, dirs.workingDir, pattern);
          await putBlob(container.containerUrl, container.path || components[components.length - 1] || pattern, openOutput(pinned(), components), headers);
          continue;
        }
        const root = path.resolve(dirs.workingDir, wildcardRoot(pattern));
        // Links are not followed, nor matched: each match is then opened again from the task
        // directory held open, as any name a task controls must be.
        const matches = await glob(pattern, { cwd: dirs.workingDir, absolute: true, onlyFiles: true, dot: true, followSymbolicLinks: false });
        for (const file of matches.sort()) {
          const components = componentsBelow(dirs.taskDir, dirs.workingDir, file);
          const relative = path.relative(root, file).split(path.sep).join('/');
          await putBlob(container.containerUrl, container.path ? `${container.path.replace(/\/$/, '')}/${relative}` : relative, openOutput(pinned(), components), headers);
        }
      } catch (err) {
        failures.push({ filePattern: spec.filePattern, message: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    taskDir?.close();
  }
  return failures;
}
