import { isIP } from 'node:net';
import type { AccountRegistry } from '../../config/accounts.js';
import { StorageError, errors } from '../../domain/blob/errors.js';
import type { BlobService } from '../../domain/blob/service.js';
import type { BlobContent, BlobMetadataStore } from '../../domain/blob/store.js';
import { verifySasFor } from './authenticate.js';
import type { Principal } from './operation.js';
import { isOwnServiceUrl } from './ownService.js';
import type { BlobRequest } from './request.js';

/**
 * How the copy authorizes its source. `copy` (Copy Blob, asynchronous): the caller's Shared Key of the
 * source's account is enough. `fromUrl` (Put Blob From URL, Put Block From URL, and Copy Blob From URL,
 * i.e. x-ms-requires-sync): Azure reads the source as an outside client, so even in the same account it
 * must be public or carry a SAS; otherwise 401 CannotVerifyCopySource, as Azure answers.
 */
export type CopySourceUse = 'copy' | 'fromUrl';

const cannotVerify = (status: number, message: string) => errors.cannotVerifyCopySource(status, message);
const notFound = () => cannotVerify(404, 'The specified resource does not exist.');

/**
 * Resolves a copy source URL to a blob of this service (any of its accounts) and checks the caller may
 * read it: the same account's Shared Key (for `copy` only), a SAS in the source URL, or a public container.
 * A URL of another host is refused: Kiln fetches nothing from outside (see ownService.ts).
 */
export async function resolveCopySource(
  sourceUrl: string,
  use: CopySourceUse,
  req: BlobRequest,
  principal: Principal,
  deps: { accounts: AccountRegistry; store: BlobMetadataStore; service: BlobService; now: number },
): Promise<BlobContent> {
  let url: URL;
  try {
    url = new URL(sourceUrl);
  } catch {
    throw errors.invalidHeader('x-ms-copy-source', sourceUrl);
  }
  if (!isOwnServiceUrl(url, req, deps.accounts)) {
    throw cannotVerify(400, `Kiln copies only from blobs of its own Blob service (${req.header('host') ?? 'this host'}); it does not fetch the source on ${url.host}.`);
  }
  let segments: string[];
  try {
    segments = url.pathname
      .split('/')
      .slice(1)
      .map((s) => decodeURIComponent(s));
  } catch {
    throw errors.invalidHeader('x-ms-copy-source', sourceUrl);
  }
  // Host style, as request.ts reads it: the first label of a host name names the account.
  const firstLabel = url.hostname.split('.')[0] ?? '';
  const hostStyle = !isIP(url.hostname.replace(/^\[|\]$/g, '')) && url.hostname.includes('.');
  if (hostStyle && deps.accounts.get(segments[0] ?? '') === undefined && deps.accounts.get(firstLabel) !== undefined) segments.unshift(firstLabel);
  const [accountName = '', container = '', ...rest] = segments;
  const blob = rest.join('/');
  const account = deps.accounts.get(accountName);
  if (!account || !container || !blob) throw notFound();
  const params = new Map([...url.searchParams].map(([k, v]) => [k.toLowerCase(), v]));
  if (params.get('snapshot') || params.get('versionid')) throw errors.unsupportedHeader('x-ms-copy-source', 'copying from blob snapshots or versions');
  const sameAccountKey = use === 'copy' && principal.kind === 'sharedKey' && principal.account === account.name;
  if (!sameAccountKey) {
    if (params.has('sig')) {
      try {
        await verifySasFor(account, { params, raw: req.raw }, { level: 'blob', container, blob }, { allowedBy: ['r'] }, deps.store, deps.now);
      } catch (err) {
        if (err instanceof StorageError) throw cannotVerify(403, err.message);
        throw err;
      }
    } else if (!(await deps.store.getContainer(account.name, container))?.publicAccess) {
      if (use === 'fromUrl') throw cannotVerify(401, 'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.');
      throw notFound();
    }
  }
  try {
    return await deps.service.blobs.getContent(account.name, container, blob);
  } catch (err) {
    if (err instanceof StorageError) throw cannotVerify(404, err.message);
    throw err;
  }
}
