import { errors } from './errors.js';
import type { Metadata } from './models.js';

const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

export function validateContainerName(name: string): void {
  if (name === '$root' || name === '$logs' || name === '$web') return;
  if (name.length < 3 || name.length > 63) throw errors.outOfRangeInput('container name length');
  if (!CONTAINER_NAME.test(name)) throw errors.invalidResourceName();
}

export function validateBlobName(name: string): void {
  if (name.length === 0 || name.length > 1024) throw errors.outOfRangeInput('blob name length');
}

const METADATA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const METADATA_LIMIT = 8 * 1024;

/** Metadata names must be C# identifiers, unique regardless of case; all of it at most 8 KiB. */
export function validateMetadata(metadata: Metadata): void {
  const seen = new Set<string>();
  let size = 0;
  for (const [name, value] of Object.entries(metadata)) {
    if (!METADATA_NAME.test(name) || seen.has(name.toLowerCase())) throw errors.invalidMetadata();
    seen.add(name.toLowerCase());
    size += name.length + value.length;
  }
  if (size > METADATA_LIMIT) throw errors.metadataTooLarge();
}
