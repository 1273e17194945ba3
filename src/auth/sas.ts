import type { Account } from '../config/accounts.js';
import { errors } from '../domain/blob/errors.js';
import type { AccessPolicy } from '../domain/blob/models.js';
import { hmacSha256, signatureMatches } from './hmac.js';

/** The resource a request addresses, as SAS scoping sees it. */
export type ResourceLevel = 'service' | 'container' | 'blob';

export interface SasTarget {
  level: ResourceLevel;
  container?: string;
  blob?: string;
}

export interface SasRequest {
  params: Map<string, string>;
  target: SasTarget;
  /** Permission letters any one of which allows the operation (e.g. ['w', 'c'] for Put Blob). */
  allowedBy: string[];
  /**
   * The letters that allow it under a service (blob or container) SAS, where they differ from `allowedBy`
   * (which then only applies to an account SAS). Empty: no service SAS may do it, e.g. container
   * properties, metadata, ACL, create and delete, which need an account SAS.
   */
  serviceAllowedBy?: string[];
  protocol: 'http' | 'https';
  clientIp: string;
  now: number;
  /** The stored access policy `si` names, from the container's ACL. */
  storedPolicy(id: string): AccessPolicy | undefined;
}

export const isSasRequest = (params: Map<string, string>): boolean => params.has('sig') && params.has('sv');

const get = (p: Map<string, string>, name: string): string => p.get(name) ?? '';

/** The service SAS string to sign: its lines depend on the signed version (see blob-api.md §5). */
export function serviceSasStringToSign(p: Map<string, string>, canonical: string): string {
  const sv = get(p, 'sv');
  const head = [get(p, 'sp'), get(p, 'st'), get(p, 'se'), canonical, get(p, 'si'), get(p, 'sip'), get(p, 'spr'), sv];
  const overrides = ['rscc', 'rscd', 'rsce', 'rscl', 'rsct'].map((n) => get(p, n));
  if (sv < '2018-11-09') return [...head, ...overrides].join('\n');
  const resource = [get(p, 'sr'), get(p, 'snapshot') || get(p, 'versionid')];
  if (sv < '2020-12-06') return [...head, ...resource, ...overrides].join('\n');
  return [...head, ...resource, get(p, 'ses'), ...overrides].join('\n');
}

export function accountSasStringToSign(account: string, p: Map<string, string>): string {
  const lines = [account, get(p, 'sp'), get(p, 'ss'), get(p, 'srt'), get(p, 'st'), get(p, 'se'), get(p, 'sip'), get(p, 'spr'), get(p, 'sv')];
  if (get(p, 'sv') >= '2020-12-06') lines.push(get(p, 'ses'));
  return lines.map((l) => `${l}\n`).join('');
}

function ipToNumber(ip: string): number | undefined {
  const parts = ip.replace(/^::ffff:/, '').split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    const octet = Number(part);
    if (!/^\d{1,3}$/.test(part) || octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

function ipAllowed(range: string, clientIp: string): boolean {
  const [from, to = from] = range.split('-');
  const ip = ipToNumber(clientIp === '::1' ? '127.0.0.1' : clientIp);
  const low = ipToNumber(from ?? '');
  const high = ipToNumber(to ?? '');
  return ip !== undefined && low !== undefined && high !== undefined && ip >= low && ip <= high;
}

const parseTime = (value: string): number => (value ? Date.parse(value) : NaN);

/**
 * Verifies a service or account SAS and that it allows the request: signature, validity window,
 * protocol, IP range, service and resource scope, permissions. Throws the StorageError Azure answers.
 * Returns the permission letters granted (from `sp`, or the stored access policy).
 */
export function verifySas(account: Account, req: SasRequest): string {
  const p = req.params;
  const isAccountSas = p.has('ss') || p.has('srt');
  let stringToSign: string;
  let policy: AccessPolicy | undefined;
  if (isAccountSas) {
    stringToSign = accountSasStringToSign(account.name, p);
  } else {
    const sr = get(p, 'sr') || (req.target.blob !== undefined ? 'b' : 'c');
    if (!['c', 'b', 'bs', 'bv'].includes(sr)) throw errors.authenticationFailed(`Signed resource "${sr}" is not supported.`);
    if (sr !== 'c' && req.target.level !== 'blob') throw errors.resourceTypeMismatch();
    if (req.target.level === 'service') throw errors.resourceTypeMismatch();
    const canonical = `/blob/${account.name}/${req.target.container}${sr === 'c' ? '' : `/${req.target.blob}`}`;
    stringToSign = serviceSasStringToSign(p, canonical);
    const si = get(p, 'si');
    if (si) {
      policy = req.storedPolicy(si);
      if (!policy) throw errors.authenticationFailed(`The stored access policy "${si}" does not exist.`);
    }
  }
  if (get(p, 'sv') < '2015-04-05') throw errors.authenticationFailed(`Signed version ${get(p, 'sv')} is not supported.`);
  if (!signatureMatches(hmacSha256(account.key, stringToSign), get(p, 'sig'))) {
    throw errors.authenticationFailed(`Signature did not match. String to sign used was ${stringToSign}`);
  }

  const start = parseTime(get(p, 'st') || (policy?.start ?? ''));
  const expiry = parseTime(get(p, 'se') || (policy?.expiry ?? ''));
  if (Number.isNaN(expiry)) throw errors.authenticationFailed('Signed expiry time is missing or malformed.');
  if (req.now > expiry || (!Number.isNaN(start) && req.now < start)) {
    throw errors.authenticationFailed(
      `Signed expiry time [${new Date(expiry).toUTCString()}] must be after signed start time and the current time [${new Date(req.now).toUTCString()}].`,
    );
  }
  const spr = get(p, 'spr');
  if (spr && !spr.split(',').includes(req.protocol)) throw errors.protocolMismatch();
  const sip = get(p, 'sip');
  if (sip && !ipAllowed(sip, req.clientIp)) throw errors.sourceIpMismatch(req.clientIp);

  if (isAccountSas) {
    if (!get(p, 'ss').includes('b')) throw errors.serviceMismatch();
    const needed = { service: 's', container: 'c', blob: 'o' }[req.target.level];
    if (!get(p, 'srt').includes(needed)) throw errors.resourceTypeMismatch();
  }
  const allowedBy = isAccountSas ? req.allowedBy : (req.serviceAllowedBy ?? req.allowedBy);
  if (!isAccountSas && allowedBy.length === 0) throw errors.authorizationFailure();
  const permissions = get(p, 'sp') || (policy?.permission ?? '');
  if (!allowedBy.some((letter) => permissions.includes(letter))) throw errors.permissionMismatch();
  return permissions;
}
