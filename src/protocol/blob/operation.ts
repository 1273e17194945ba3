import type { Readable } from 'node:stream';
import type { ResourceLevel } from '../../auth/sas.js';
import type { BlobService } from '../../domain/blob/service.js';
import type { BlobContent } from '../../domain/blob/store.js';
import type { CopySourceUse } from './copySource.js';
import type { PublicAccess } from '../../domain/blob/models.js';
import type { BlobRequest } from './request.js';
import type { Responder } from './respond.js';

/** How a request was authenticated; Copy Blob needs it to authorize its source. */
export type Principal = { kind: 'sharedKey'; account: string } | { kind: 'sas'; permissions: string } | { kind: 'anonymous' };

/**
 * For the writes that `w` or `c` allow: a SAS granting `c` (create) without `w` may make new blobs
 * only, never replace one (Azure answers 403 AuthorizationPermissionMismatch).
 */
export const mayOnlyCreate = (principal: Principal): boolean => principal.kind === 'sas' && !principal.permissions.includes('w');

export interface OperationContext {
  req: BlobRequest;
  body: Readable;
  respond: Responder;
  service: BlobService;
  principal: Principal;
  /** The version the request asked for, or the service default. */
  version: string;
  /** Authorizes a copy source URL against this service and returns the blob it names, with its content (see copySource.ts). */
  resolveCopySource(url: string, use: CopySourceUse): Promise<BlobContent>;
}

/** One REST operation of the Blob service: what it addresses, what may call it, and its handler. */
export interface Operation {
  name: string;
  level: ResourceLevel;
  /** SAS permission letters any one of which allows it. */
  sasPermissions: string[];
  /** Where a service SAS differs from an account SAS: the letters that allow it then ([]: never). */
  serviceSasPermissions?: string[];
  /** The lowest public access level of a container that lets anonymous callers do it. */
  anonymous?: PublicAccess;
  handle(ctx: OperationContext): Promise<void> | void;
}
