import { batchErrors, BatchError } from '../../domain/batch/errors.js';
import type { BatchRequest } from './request.js';

interface Versioned {
  /** Absent for a node file (its operations take the date conditions only). */
  eTag?: string;
  lastModified: string;
}

const unquote = (tag: string): string =>
  tag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
const tagList = (value: string): string[] => value.split(',').map(unquote);

/**
 * If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since against an entity's ETag and
 * Last-Modified, as far as the operation takes them (parameters.ts reads them into req.conditions).
 * A write that fails them is 412 ConditionNotMet; a read is 304 where HTTP says so.
 */
export function checkConditions(req: BatchRequest, entity: Versioned, isRead: boolean): void {
  const { ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince } = req.conditions;
  const etag = entity.eTag;
  const modified = Math.floor(Date.parse(entity.lastModified) / 1000) * 1000;
  if (ifMatch !== undefined && !tagList(ifMatch).some((t) => t === '*' || t === etag)) throw batchErrors.conditionNotMet();
  if (ifUnmodifiedSince !== undefined && modified > ifUnmodifiedSince) throw batchErrors.conditionNotMet();
  if (ifNoneMatch !== undefined && tagList(ifNoneMatch).some((t) => t === '*' || t === etag)) {
    throw isRead ? notModified() : batchErrors.conditionNotMet();
  }
  if (ifModifiedSince !== undefined && modified <= ifModifiedSince) throw isRead ? notModified() : batchErrors.conditionNotMet();
}

const notModified = (): BatchError => new BatchError(304, 'ConditionNotMet', 'Not modified.');

/** A callback for the domain's transitions, checked against the entity as read in the transaction. */
export const conditionsFor = (req: BatchRequest) => (entity: Versioned) => checkConditions(req, entity, false);
