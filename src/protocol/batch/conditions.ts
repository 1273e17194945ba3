import { batchErrors, BatchError } from '../../domain/batch/errors.js';
import type { BatchRequest } from './request.js';

interface Versioned {
  eTag: string;
  lastModified: string;
}

const unquote = (tag: string): string => tag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
const tagList = (value: string): string[] => value.split(',').map(unquote);

function parseDate(req: BatchRequest, name: string): number | undefined {
  const value = req.header(name);
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw batchErrors.invalidHeader(name, value);
  return ms;
}

/**
 * If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since against an entity's ETag and
 * Last-Modified. A write that fails them is 412 ConditionNotMet; a read is 304 where HTTP says so.
 */
export function checkConditions(req: BatchRequest, entity: Versioned, isRead: boolean): void {
  const etag = entity.eTag;
  const modified = Math.floor(Date.parse(entity.lastModified) / 1000) * 1000;
  const ifMatch = req.header('if-match');
  if (ifMatch !== undefined && !tagList(ifMatch).some((t) => t === '*' || t === etag)) throw batchErrors.conditionNotMet();
  const unmodifiedSince = parseDate(req, 'if-unmodified-since');
  if (unmodifiedSince !== undefined && modified > unmodifiedSince) throw batchErrors.conditionNotMet();
  const ifNoneMatch = req.header('if-none-match');
  if (ifNoneMatch !== undefined && tagList(ifNoneMatch).some((t) => t === '*' || t === etag)) {
    throw isRead ? notModified() : batchErrors.conditionNotMet();
  }
  const modifiedSince = parseDate(req, 'if-modified-since');
  if (modifiedSince !== undefined && modified <= modifiedSince) throw isRead ? notModified() : batchErrors.conditionNotMet();
}

const notModified = (): BatchError => new BatchError(304, 'ConditionNotMet', 'Not modified.');

/** A callback for the domain's transitions, checked against the entity as read in the transaction. */
export const conditionsFor = (req: BatchRequest) => (entity: Versioned) => checkConditions(req, entity, false);
