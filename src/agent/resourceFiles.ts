import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { XMLParser } from 'fast-xml-parser';
import { confinedComponents } from './fs/confinedPath.js';
import { CREATE_FLAGS, PinnedDir, withDir, type Owner } from './fs/pinnedDir.js';
import { TransferStatusError, withRetries, type Attempt } from './transfers.js';

/**
 * A resource file as the agent receives it. The server turns `autoStorageContainerName` into a
 * container URL with a SAS before dispatch, so the agent only ever fetches URLs.
 */
export interface ResourceFileSource {
  httpUrl?: string;
  storageContainerUrl?: string;
  blobPrefix?: string;
  filePath?: string;
  /** Octal, e.g. "0755" (Linux nodes only). */
  fileMode?: string;
}

export class ResourceFileError extends Error {
  constructor(
    message: string,
    readonly source: string,
  ) {
    super(message);
  }
}

const listParser = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'Blob' });

/**
 * A GET tried as transfers are (transfers.ts): `use` reads the answer within the same attempt, so a
 * connection cut mid-body is retried too. A refusal (403, 404) is the resource file's error, at once.
 */
function download<T>(url: string, use: (response: Response, attempt: Attempt) => Promise<T>): Promise<T> {
  return withRetries(
    `downloading ${redact(url)}`,
    async (attempt) => {
      const response = await fetch(url, { signal: attempt.signal });
      if (!response.ok) {
        await response.body?.cancel();
        throw new TransferStatusError(`downloading ${redact(url)} answered ${response.status} ${response.statusText}`, response.status);
      }
      attempt.progress();
      return use(response, attempt);
    },
    { fail: (message) => new ResourceFileError(message, url) },
  );
}

/** Never log a SAS: keep the URL up to the query. */
export const redact = (url: string): string => url.split('?')[0] ?? url;

function modeOf(fileMode: string | undefined, source: string): number {
  if (fileMode === undefined || fileMode === '') return 0o644;
  if (!/^[0-7]{1,4}$/.test(fileMode)) throw new ResourceFileError(`the fileMode "${fileMode}" is not an octal mode`, source);
  return parseInt(fileMode, 8);
}

/**
 * Saves one blob at `components` below the working directory. The task may have left anything at
 * that name (a link to a file of root's, a hard link, a directory): the bytes go to a new file
 * (O_EXCL, owned by the task's user through its descriptor), which is then renamed over the name,
 * so nothing that was there is ever written through. Missing directories are made, owned likewise.
 */
async function saveTo(url: string, workingDir: PinnedDir, components: string[], mode: number, owner: Owner | undefined): Promise<void> {
  const name = components[components.length - 1];
  if (!name) throw new ResourceFileError('a resource file needs a filePath that names a file', url);
  // Each attempt writes a new temporary file: one cut off midway is removed, never renamed into place.
  await download(url, (response, attempt) =>
    withDir(workingDir.walk(components.slice(0, -1), { owner }), async (dir) => {
      const temporary = `.kiln-download-${randomBytes(8).toString('hex')}`;
      const file = await fs.promises.open(dir.entry(temporary), CREATE_FLAGS, 0o600);
      try {
        if (owner) await file.chown(owner.uid, owner.gid);
        await file.chmod(mode);
        // Written through the handle itself: a stream made from it would keep close() waiting.
        for await (const chunk of response.body ? Readable.fromWeb(response.body as import('node:stream/web').ReadableStream) : []) {
          attempt.progress();
          const bytes = chunk as Buffer;
          for (let offset = 0; offset < bytes.length;) offset += (await file.write(bytes, offset)).bytesWritten;
        }
        dir.rename(temporary, name);
      } catch (err) {
        fs.rmSync(dir.entry(temporary), { force: true });
        throw err;
      } finally {
        await file.close();
      }
    }),
  );
}

/** Blob names in a container (through its SAS URL), following the listing's pages. */
async function listBlobNames(containerUrl: string, prefix: string | undefined): Promise<string[]> {
  const names: string[] = [];
  let marker = '';
  do {
    const url = new URL(containerUrl);
    url.searchParams.set('restype', 'container');
    url.searchParams.set('comp', 'list');
    if (prefix) url.searchParams.set('prefix', prefix);
    if (marker) url.searchParams.set('marker', marker);
    const doc = listParser.parse(await download(url.toString(), (response) => response.text())) as {
      EnumerationResults?: { Blobs?: { Blob?: { Name: string }[] } | ''; NextMarker?: string };
    };
    const blobs = doc.EnumerationResults?.Blobs;
    for (const blob of (blobs && blobs.Blob) || []) names.push(String(blob.Name));
    marker = doc.EnumerationResults?.NextMarker ?? '';
  } while (marker);
  return names;
}

const blobUrl = (containerUrl: string, name: string): string => {
  const url = new URL(containerUrl);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${name.split('/').map(encodeURIComponent).join('/')}`;
  return url.toString();
};

/**
 * Downloads one resource file into `workingDir`, as Azure Batch does before a task starts, owned by
 * `owner` (the task's user) when given. `workingDir` is a path the agent laid out (its last
 * component, wd, is opened without following a link); below it nothing is trusted.
 */
export async function downloadResourceFile(source: ResourceFileSource, workingDir: string, owner?: Owner): Promise<void> {
  const origin = source.httpUrl || source.storageContainerUrl || '';
  if (!origin) throw new ResourceFileError('a resource file needs httpUrl, storageContainerUrl or autoStorageContainerName', '');
  const mode = modeOf(source.fileMode, origin);
  await withDir(PinnedDir.open(workingDir, { create: true }), async (wd) => {
    if (source.httpUrl) {
      const name = source.filePath || decodeURIComponent(new URL(source.httpUrl).pathname.split('/').pop() ?? '');
      await saveTo(source.httpUrl, wd, confinedComponents(name), mode, owner);
      return;
    }
    const base = source.filePath ? confinedComponents(source.filePath) : [];
    for (const name of await listBlobNames(origin, source.blobPrefix)) {
      await saveTo(blobUrl(origin, name), wd, [...base, ...confinedComponents(name)], mode, owner);
    }
  });
}
