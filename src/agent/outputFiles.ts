import fs from 'node:fs';
import path from 'node:path';
import { glob } from 'tinyglobby';
import { inside } from './layout.js';
import { redact } from './resourceFiles.js';

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

async function putBlob(containerUrl: string, blobName: string, file: string, headers: Record<string, string>): Promise<void> {
  const url = new URL(containerUrl);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${blobName.split('/').map(encodeURIComponent).join('/')}`;
  const { size } = fs.statSync(file);
  const response = await fetch(url, {
    method: 'PUT',
    headers: { ...headers, 'x-ms-blob-type': 'BlockBlob', 'x-ms-version': '2021-12-02', 'Content-Length': String(size) },
    body: size === 0 ? '' : (fs.createReadStream(file) as unknown as ReadableStream),
    duplex: 'half',
  } as RequestInit);
  if (!response.ok) {
    const code = response.headers.get('x-ms-error-code') ?? '';
    throw new Error(`uploading to ${redact(url.toString())} answered ${response.status} ${code}`.trim());
  }
}

/**
 * Uploads a finished task's output files whose condition holds. Patterns are relative to the
 * working directory and may reach up into the task directory (`../std*.txt`), never beyond it.
 */
export async function uploadOutputFiles(
  specs: OutputFileSpec[],
  dirs: { taskDir: string; workingDir: string },
  succeeded: boolean,
): Promise<UploadFailure[]> {
  const failures: UploadFailure[] = [];
  for (const spec of specs) {
    const condition = spec.uploadOptions.uploadCondition.toLowerCase();
    if ((condition === 'tasksuccess' && !succeeded) || (condition === 'taskfailure' && succeeded)) continue;
    const container = spec.destination.container;
    if (!container) continue;
    try {
      const headers = Object.fromEntries((container.uploadHeaders ?? []).map((h) => [h.name, h.value ?? '']));
      const pattern = spec.filePattern.replaceAll('\\', '/');
      if (!hasWildcard(pattern)) {
        const file = inside(dirs.taskDir, path.relative(dirs.taskDir, path.resolve(dirs.workingDir, pattern)));
        await putBlob(container.containerUrl, container.path || path.basename(file), file, headers);
        continue;
      }
      const root = path.resolve(dirs.workingDir, wildcardRoot(pattern));
      const matches = await glob(pattern, { cwd: dirs.workingDir, absolute: true, onlyFiles: true, dot: true });
      for (const file of matches.sort()) {
        inside(dirs.taskDir, path.relative(dirs.taskDir, file));
        const relative = path.relative(root, file).split(path.sep).join('/');
        await putBlob(container.containerUrl, container.path ? `${container.path.replace(/\/$/, '')}/${relative}` : relative, file, headers);
      }
    } catch (err) {
      failures.push({ filePattern: spec.filePattern, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return failures;
}
