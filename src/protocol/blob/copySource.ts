import type { AccountRegistry } from '../../config/accounts.js';
import { StorageError, errors } from '../../domain/blob/errors.js';
import type { Blob } from '../../domain/blob/models.js';
import type { BlobService } from '../../domain/blob/service.js';
import type { BlobMetadataStore } from '../../domain/blob/store.js';
import { verifySasFor } from './authenticate.js';
import type { Principal } from './operation.js';
import type { BlobRequest } from './request.js';

const cannotVerify = (status: number, message: string) => errors.cannotVerifyCopySource(status, message);

/**
 * Resolves the source of a Copy Blob to a blob of this service and checks the caller may read it: the
 * same account's Shared Key, a SAS in the source URL, or a public container.
 */
export function resolveCopySource(
  sourceUrl: string,
  req: BlobRequest,
  principal: Principal,
  deps: { accounts: AccountRegistry; store: BlobMetadataStore; service: BlobService; now: number },
): Blob {
  let url: URL;
  try {
    url = new URL(sourceUrl);
  } catch {
    throw errors.invalidHeader('x-ms-copy-source', sourceUrl);
  }
  const segments = url.pathname.split('/').slice(1).map((s) => decodeURIComponent(s));
  const firstLabel = url.hostname.split('.')[0] ?? '';
  if (deps.accounts.get(segments[0] ?? '') === undefined && deps.accounts.get(firstLabel) !== undefined) segments.unshift(firstLabel);
  const [accountName = '', container = '', ...rest] = segments;
  const blob = rest.join('/');
  const account = deps.accounts.get(accountName);
  if (!account || !container || !blob) throw cannotVerify(404, 'The specified resource does not exist.');
  const params = new Map([...url.searchParams].map(([k, v]) => [k.toLowerCase(), v]));
  const sameAccountKey = principal.kind === 'sharedKey' && principal.account === account.name;
  if (!sameAccountKey) {
    if (params.has('sig')) {
      try {
        verifySasFor(account, { params, raw: req.raw }, { level: 'blob', container, blob }, { allowedBy: ['r'] }, deps.store, deps.now);
      } catch (err) {
        if (err instanceof StorageError) throw cannotVerify(403, err.message);
        throw err;
      }
    } else if (!deps.store.getContainer(account.name, container)?.publicAccess) {
      throw cannotVerify(404, 'The specified resource does not exist.');
    }
  }
  try {
    return deps.service.blobs.get(account.name, container, blob);
  } catch (err) {
    if (err instanceof StorageError) throw cannotVerify(404, err.message);
    throw err;
  }
}
