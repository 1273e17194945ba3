import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { XMLParser } from 'fast-xml-parser';
import { inside } from './layout.js';

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

async function get(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) {
    throw new ResourceFileError(`downloading ${redact(url)} answered ${response.status} ${response.statusText}`, url);
  }
  return response;
}

/** Never log a SAS: keep the URL up to the query. */
export const redact = (url: string): string => url.split('?')[0] ?? url;

async function saveTo(url: string, file: string, fileMode: string | undefined): Promise<void> {
  const response = await get(url);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), fs.createWriteStream(file));
  if (fileMode) fs.chmodSync(file, parseInt(fileMode, 8));
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
    const doc = listParser.parse(await (await get(url.toString())).text()) as {
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

/** Downloads one resource file into `workingDir`, as Azure Batch does before a task starts. */
export async function downloadResourceFile(source: ResourceFileSource, workingDir: string): Promise<void> {
  if (source.httpUrl) {
    const name = source.filePath || decodeURIComponent(new URL(source.httpUrl).pathname.split('/').pop() ?? '');
    if (!name) throw new ResourceFileError('a resource file needs a filePath when its URL names no file', source.httpUrl);
    await saveTo(source.httpUrl, inside(workingDir, name), source.fileMode);
    return;
  }
  if (source.storageContainerUrl) {
    const base = source.filePath ? inside(workingDir, source.filePath) : workingDir;
    for (const name of await listBlobNames(source.storageContainerUrl, source.blobPrefix)) {
      await saveTo(blobUrl(source.storageContainerUrl, name), inside(base, name), source.fileMode);
    }
    return;
  }
  throw new ResourceFileError('a resource file needs httpUrl, storageContainerUrl or autoStorageContainerName', '');
}
