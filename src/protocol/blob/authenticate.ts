import type { Account, AccountRegistry } from '../../config/accounts.js';
import { isSasRequest, verifySas, type SasRequest, type SasTarget } from '../../auth/sas.js';
import { blobStringsToSign, parseSharedKeyHeader, requestDateProblem, verifySharedKey } from '../../auth/sharedKey.js';
import { errors } from '../../domain/blob/errors.js';
import type { BlobMetadataStore } from '../../domain/blob/store.js';
import type { Operation, Principal } from './operation.js';
import type { BlobRequest } from './request.js';

const PUBLIC_LEVEL = { blob: 1, container: 2 } as const;

/**
 * Decides who is calling and whether they may: Shared Key, then SAS, then anonymous access through
 * a container's public access level. Throws the StorageError Azure answers otherwise.
 */
export async function authenticate(
  req: BlobRequest,
  op: Pick<Operation, 'level' | 'sasPermissions' | 'serviceSasPermissions' | 'anonymous'>,
  accounts: AccountRegistry,
  store: BlobMetadataStore,
  now: number,
): Promise<Principal> {
  const account = accounts.get(req.account);
  const authorization = req.header('authorization');
  if (authorization !== undefined) {
    const parsed = parseSharedKeyHeader(authorization);
    if (!parsed || !account || parsed.account !== account.name) {
      throw errors.authenticationFailed('The Authorization header is malformed or names another account.');
    }
    const result = verifySharedKey(account, parsed.signature, blobStringsToSign(account.name, req));
    if (!result.ok) {
      throw errors.authenticationFailed(
        `The MAC signature found in the HTTP request '${parsed.signature}' is not the same as any computed signature. Server used following string to sign: '${result.stringToSign}'.`,
      );
    }
    const dateProblem = requestDateProblem(req, now);
    if (dateProblem) throw errors.authenticationFailed(dateProblem);
    return { kind: 'sharedKey', account: account.name };
  }
  if (isSasRequest(req.params)) {
    if (!account) throw errors.authenticationFailed('The account in the URL is not known.');
    const target = { level: op.level, container: req.container, blob: req.blob };
    const permissions = await verifySasFor(account, req, target, { allowedBy: op.sasPermissions, serviceAllowedBy: op.serviceSasPermissions }, store, now);
    return { kind: 'sas', permissions };
  }
  if (!account || !op.anonymous || req.container === undefined) throw errors.resourceNotFound();
  const access = (await store.getContainer(account.name, req.container))?.publicAccess;
  if (!access || PUBLIC_LEVEL[access] < PUBLIC_LEVEL[op.anonymous]) throw errors.resourceNotFound();
  return { kind: 'anonymous' };
}

/** Verifies a SAS; a stored access policy it names (`si`) is read from its container first. */
export async function verifySasFor(
  account: Account,
  req: Pick<BlobRequest, 'params' | 'raw'>,
  target: SasTarget,
  permissions: Pick<SasRequest, 'allowedBy' | 'serviceAllowedBy'>,
  store: BlobMetadataStore,
  now: number,
): Promise<string> {
  const policies = req.params.has('si') && target.container !== undefined ? (await store.getContainer(account.name, target.container))?.accessPolicies : undefined;
  return verifySas(account, {
    params: req.params,
    target,
    ...permissions,
    protocol: 'http',
    clientIp: req.raw.socket.remoteAddress ?? '',
    now,
    storedPolicy: (id) => policies?.find((p) => p.id === id),
  });
}
