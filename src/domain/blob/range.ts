import { errors } from './errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

const RANGE = /^bytes=(\d+)-(\d*)$/;

/**
 * Resolves a Range header against a blob size. A header that does not parse is ignored, as HTTP says
 * (legacy SDKs send `bytes=None-`). A start at or past the end is 416; an end past it is clamped.
 */
export function resolveRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = RANGE.exec(header.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return undefined;
  if (start >= size) throw errors.invalidRange();
  return { start, end: Math.min(end, size - 1) };
}
