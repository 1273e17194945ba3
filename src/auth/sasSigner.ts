import type { Account } from '../config/accounts.js';
import { hmacSha256 } from './hmac.js';
import { serviceSasStringToSign } from './sas.js';

/**
 * A container SAS the Batch service hands to nodes for `autoStorageContainerName` resource files:
 * the same signing any client does, with the account's key, so the Blob service verifies it as usual.
 */
export function containerSasUrl(account: Account, blobAccountUrl: string, container: string, permissions: string, expiresOn: Date): string {
  const params = new Map<string, string>([
    ['sv', '2021-12-02'],
    ['sr', 'c'],
    ['sp', permissions],
    ['se', expiresOn.toISOString().replace(/\.\d+Z$/, 'Z')],
  ]);
  const sig = hmacSha256(account.key, serviceSasStringToSign(params, `/blob/${account.name}/${container}`)).toString('base64');
  params.set('sig', sig);
  return `${blobAccountUrl}/${container}?${new URLSearchParams([...params]).toString()}`;
}
