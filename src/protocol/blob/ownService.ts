import { isIP } from 'node:net';
import type { AccountRegistry } from '../../config/accounts.js';
import type { BlobRequest } from './request.js';

/**
 * Whether a copy source URL points at this Blob service. Kiln fetches no other URL, so a URL that does
 * not is refused, never mapped to a local blob by its path. It does when its host and port are
 *  1. those the request itself was sent to (its Host header: what the client calls this service, a
 *     proxy's name included; a Host without a port matches the scheme's default port), or
 *  2. (http only) the address the request's connection arrived at: the same port, and that IP literally,
 *     or any loopback name (localhost, 127.0.0.0/8, ::1) when the connection came over loopback.
 * A first label naming a known account (host style, `ACCOUNT.blob.example:port`) is set aside on both
 * sides, so the source may be any account of the service.
 */
export function isOwnServiceUrl(url: URL, req: BlobRequest, accounts: AccountRegistry): boolean {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const sourceHost = serviceHost(url.hostname, accounts);
  const sourcePort = url.port || (url.protocol === 'https:' ? '443' : '80');
  const requestHost = parseHost(req.header('host'));
  if (requestHost && serviceHost(requestHost.hostname, accounts) === sourceHost) {
    if (requestHost.port === '' ? sourcePort === '80' || sourcePort === '443' : requestHost.port === sourcePort) return true;
  }
  const socket = req.raw.socket;
  if (url.protocol !== 'http:' || sourcePort !== String(socket.localPort)) return false;
  const local = unmapped(socket.localAddress ?? '');
  return sourceHost === local || (isLoopback(local) && isLoopback(sourceHost));
}

function parseHost(host: string | undefined): { hostname: string; port: string } | undefined {
  if (!host) return undefined;
  try {
    const u = new URL(`http://${host}`);
    return { hostname: u.hostname, port: u.port };
  } catch {
    return undefined;
  }
}

/** The host name without brackets and without a first label that names an account. */
function serviceHost(hostname: string, accounts: AccountRegistry): string {
  const name = unmapped(hostname.replace(/^\[|\]$/g, '').toLowerCase());
  const dot = name.indexOf('.');
  if (isIP(name) || dot < 0 || accounts.get(name.slice(0, dot)) === undefined) return name;
  return name.slice(dot + 1);
}

/** IPv4 addresses on an IPv6 socket read `::ffff:127.0.0.1`. */
const unmapped = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

const isLoopback = (host: string): boolean => host === 'localhost' || host.endsWith('.localhost') || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
