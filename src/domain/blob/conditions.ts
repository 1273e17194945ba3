import { StorageError, errors } from './errors.js';
import type { Expect } from './store.js';

/** The HTTP conditional headers of a request, parsed. Dates are in ms since the epoch. */
export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: number;
  ifUnmodifiedSince?: number;
}

interface Versioned {
  etag: string;
  lastModified: number;
}

const matchesEtag = (header: string, etag: string): boolean =>
  header
    .split(',')
    .map((t) => t.trim())
    .some((t) => t === '*' || t === etag || `"${t}"` === etag || t === `W/${etag}`);

// Last-Modified travels with one-second resolution, so comparisons are made in whole seconds.
const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * For reads of an existing resource: a failed If-None-Match or If-Modified-Since answers 304, a failed
 * If-Match or If-Unmodified-Since answers 412.
 */
export function checkReadConditions(target: Versioned, c: Conditions): void {
  if (c.ifMatch !== undefined && !matchesEtag(c.ifMatch, target.etag)) throw errors.conditionNotMet();
  if (c.ifUnmodifiedSince !== undefined && seconds(target.lastModified) > seconds(c.ifUnmodifiedSince)) {
    throw errors.conditionNotMet();
  }
  if (c.ifNoneMatch !== undefined && matchesEtag(c.ifNoneMatch, target.etag)) throw notModified();
  if (c.ifModifiedSince !== undefined && seconds(target.lastModified) <= seconds(c.ifModifiedSince)) {
    throw notModified();
  }
}

/** Whether the target fails any of the conditions, read as a write reads them (every failure is 412). */
function unmet(target: Versioned, c: Conditions): boolean {
  return (
    (c.ifMatch !== undefined && !matchesEtag(c.ifMatch, target.etag)) ||
    (c.ifNoneMatch !== undefined && matchesEtag(c.ifNoneMatch, target.etag)) ||
    (c.ifModifiedSince !== undefined && seconds(target.lastModified) <= seconds(c.ifModifiedSince)) ||
    (c.ifUnmodifiedSince !== undefined && seconds(target.lastModified) > seconds(c.ifUnmodifiedSince))
  );
}

/** For writes: any failed condition answers 412, except If-None-Match: * on an existing blob (409). */
export function checkWriteConditions(target: Versioned | undefined, c: Conditions, alreadyExists = errors.blobAlreadyExists): void {
  if (!target) {
    if (c.ifMatch !== undefined) throw errors.conditionNotMet();
    return;
  }
  if (c.ifNoneMatch?.trim() === '*') throw alreadyExists();
  if (unmet(target, c)) throw errors.conditionNotMet();
}

/** The x-ms-source-if-* conditions of a copy on its source: any failure is 412 SourceConditionNotMet. */
export function checkSourceConditions(source: Versioned, c: Conditions): void {
  if (unmet(source, c)) throw errors.sourceConditionNotMet();
}

export const hasConditions = (c: Conditions): boolean =>
  c.ifMatch !== undefined || c.ifNoneMatch !== undefined || c.ifModifiedSince !== undefined || c.ifUnmodifiedSince !== undefined;

/**
 * What a write that checked `c` against `target` (and, when `createOnly`, that there was none) asks the
 * store to find still there when it writes: the target as read, or anything when nothing was checked.
 */
export function expectation(target: Versioned | undefined, c: Conditions, createOnly = false): Expect {
  if (!createOnly && !hasConditions(c)) return 'any';
  return target ? { etag: target.etag } : 'absent';
}

/** 304 carries no body; the code only travels in x-ms-error-code. */
const notModified = (): StorageError => new StorageError(304, 'ConditionNotMet', 'The condition specified using HTTP conditional header(s) is not met.');
