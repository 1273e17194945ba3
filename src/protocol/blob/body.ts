import type { Readable } from 'node:stream';
import { errors } from '../../domain/blob/errors.js';
import type { BlobRequest } from './request.js';
import { readBoundedBody } from '../http/body.js';

/** Reads a small (XML) request body whole, refusing one over `max` bytes. */
export function readSmallBody(body: Readable, max = 16 << 20): Promise<Buffer> {
  return readBoundedBody(body, max, () => errors.requestBodyTooLarge(max));
}

/** Uploads must say their length (Azure answers 411 otherwise) and stay under the version's limit. */
export function checkUploadLength(req: BlobRequest, max: number): void {
  const declared = req.header('content-length');
  if (declared === undefined) throw errors.missingContentLength();
  if (!/^\d+$/.test(declared)) throw errors.invalidHeader('Content-Length', declared);
  if (Number(declared) > max) throw errors.requestBodyTooLarge(max);
}

/** The From URL operations carry no body: Content-Length must be 0 (Azure answers 400 otherwise, 411 without one). */
export function requireEmptyBody(req: BlobRequest): void {
  const declared = req.header('content-length');
  if (declared === undefined) throw errors.missingContentLength();
  if (declared.trim() !== '0') throw errors.invalidHeader('Content-Length', declared);
}

const MiB = 1024 * 1024;

/** Put Blob's single-shot limit by request version. */
export const maxPutBlobBytes = (version: string): number => (version >= '2019-12-12' ? 5000 * MiB : version >= '2016-05-31' ? 256 * MiB : 64 * MiB);

/** Put Block's limit by request version. */
export const maxBlockBytes = (version: string): number => (version >= '2019-12-12' ? 4000 * MiB : version >= '2016-05-31' ? 100 * MiB : 4 * MiB);
