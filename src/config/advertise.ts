import { isIP } from 'node:net';
import os from 'node:os';

/**
 * The address Kiln gives out in every URL (the banner, connection strings, the agent command line,
 * tasks' AZ_BATCH_ACCOUNT_URL, resource-file and output SAS URLs), apart from the address it listens
 * on: `--host 0.0.0.0` serves loopback and the LAN at once, but "0.0.0.0" is no address to connect to.
 *
 * Chosen as Consul and Kubernetes' API server do (Nomad asks for it outright): `--advertise-host`
 * when given; otherwise the bind host itself; when that is a wildcard (0.0.0.0, ::), the machine's
 * first non-loopback, non-link-local IPv4 address in interface order, or 127.0.0.1 where there is none.
 * Consul refuses to guess between several private addresses; Kiln picks the first and names the others
 * in `because`, which the banner prints.
 */
export interface AdvertisedHost {
  host: string;
  /** Why this host, when Kiln chose it rather than being told (printed in kiln up's banner). */
  because?: string;
}

export const isWildcardHost = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '[::]';

const LINK_LOCAL_V4 = /^169\.254\./;

/** Non-loopback, non-link-local IPv4 addresses of this machine, in interface order. */
export function interfaceAddresses(interfaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces()): string[] {
  return Object.values(interfaces)
    .flatMap((infos) => infos ?? [])
    .filter((info) => info.family === 'IPv4' && !info.internal && !LINK_LOCAL_V4.test(info.address))
    .map((info) => info.address);
}

export function advertisedHost(bindHost: string, explicit?: string, interfaces?: NodeJS.Dict<os.NetworkInterfaceInfo[]>): AdvertisedHost {
  if (explicit !== undefined && explicit !== '') {
    const host = explicit.replace(/^\[(.*)\]$/, '$1');
    if (isWildcardHost(host)) throw new Error(`--advertise-host ${explicit} is no address to connect to: give this machine's name or IP address as others reach it`);
    if (!isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) throw new Error(`--advertise-host must be a host name or an IP address, not "${explicit}"`);
    return { host };
  }
  if (!isWildcardHost(bindHost)) return { host: bindHost };
  const [first, ...others] = interfaceAddresses(interfaces);
  if (!first) return { host: '127.0.0.1', because: `--host is ${bindHost} and this machine has no other IPv4 address; set --advertise-host` };
  const also = others.length > 0 ? `; also here: ${others.join(', ')}` : '';
  return { host: first, because: `--host is ${bindHost}: this machine's first network address${also}; set --advertise-host to give out another` };
}

/** A host as it goes in a URL: IPv6 addresses in brackets. */
export const urlHost = (host: string): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]` : host);

/**
 * Where kiln up's own agents reach its Batch service: loopback when it listens there (on a wildcard
 * or loopback address), so they need neither the LAN nor a name that resolves; else the bind address.
 */
export function localHost(bindHost: string): string {
  if (bindHost === '0.0.0.0') return '127.0.0.1';
  if (bindHost === '::' || bindHost === '[::]') return '::1';
  return bindHost;
}

/** An address as a socket reports it: IPv4 on an IPv6 socket reads `::ffff:10.0.0.2`. */
export const unmappedAddress = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
