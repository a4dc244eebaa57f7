import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** What push endpoints may be: https only unless PUSH_ALLOW_HTTP, public addresses only unless PUSH_ALLOW_PRIVATE. */
export interface EndpointPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

/** Longest endpoint URL accepted: real Web Push endpoints are a few hundred characters. */
export const ENDPOINT_MAX_LENGTH = 2048;

/**
 * Addresses a push endpoint may not reach unless PUSH_ALLOW_PRIVATE: loopback, private and shared
 * networks, link-local (cloud metadata at 169.254.169.254), multicast, reserved, documentation and
 * benchmarking ranges, in IPv4 and IPv6. IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged by the
 * IPv4 address inside them, so `::ffff:127.0.0.1` is loopback too.
 */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped, NAT64 well-known prefix, 6to4), if any. */
function embeddedIpv4(address: string): string | null {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1]!;
  const groups = expandIpv6(lower);
  if (!groups) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  // ::ffff:a.b.c.d written in hex, and 64:ff9b::/96 (NAT64)
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0)) return v4(groups[6]!, groups[7]!);
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!); // 6to4
  return null;
}

/** The eight 16-bit groups of an IPv6 address, or null. */
function expandIpv6(address: string): number[] | null {
  if (isIP(address) !== 6 || address.includes('.')) return null;
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/** True when `address` (an IP literal) is one a push endpoint may not reach without PUSH_ALLOW_PRIVATE. */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  const inner = embeddedIpv4(address);
  if (inner !== null) return BLOCKED.check(inner, 'ipv4');
  return BLOCKED.check(address, 'ipv6');
}

/** Why an endpoint URL is refused, as the sentence a client gets; null when its form is acceptable. */
export function endpointFormProblem(raw: string, policy: EndpointPolicy): string | null {
  if (raw.length > ENDPOINT_MAX_LENGTH) return `must be at most ${ENDPOINT_MAX_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) {
    return policy.allowHttp ? 'must be an https:// or http:// URL' : 'must be an https:// URL';
  }
  if (url.username || url.password) return 'must not carry a user name or password';
  if (url.hash) return 'must not have a #fragment';
  const host = hostOf(url);
  if (!policy.allowPrivate) {
    if (isIP(host) !== 0 ? isBlockedAddress(host) : host === 'localhost' || host.endsWith('.localhost') || !host.includes('.')) {
      return 'must name a public host, not a loopback, private or reserved address';
    }
  }
  return null;
}

/** The URL's host without IPv6 brackets. */
export const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Resolves `host` to every address (one DNS look-up, as connecting would). */
export async function resolveAll(host: string): Promise<LookupAddress[]> {
  if (isIP(host) !== 0) return [{ address: host, family: isIP(host) }];
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });
}

/**
 * Why the endpoint's host is refused after resolving it; null when every address is public (or
 * PUSH_ALLOW_PRIVATE). A name that does not resolve is refused too: nothing could be delivered to it.
 */
export async function endpointAddressProblem(raw: string, policy: EndpointPolicy): Promise<string | null> {
  const host = hostOf(new URL(raw));
  let addresses: LookupAddress[];
  // One sentence for "does not resolve" and "resolves inside": telling them apart would let a user map
  // which internal names exist.
  const refusal = policy.allowPrivate ? 'names a host that does not resolve' : 'must resolve to public addresses only';
  try {
    addresses = await resolveAll(host);
  } catch {
    return refusal;
  }
  if (addresses.length === 0) return refusal;
  if (!policy.allowPrivate && addresses.some((a) => isBlockedAddress(a.address))) return refusal;
  return null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for the sockets that deliver pushes: resolves like Node does, then refuses blocked
 * addresses unless allowed. Checking at connect time as well as at subscribe time stops DNS
 * rebinding (a name that resolved to a public address when subscribed and to 127.0.0.1 later).
 */
export function safeLookup(policy: EndpointPolicy) {
  return (hostname: string, options: { all?: boolean; family?: number | string }, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true } as { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = policy.allowPrivate ? addresses : addresses.filter((a) => !isBlockedAddress(a.address));
      if (allowed.length === 0) {
        const refusal: NodeJS.ErrnoException = new Error(`push endpoint ${hostname} resolves to no public address`);
        refusal.code = 'EPUSHBLOCKED';
        return callback(refusal, []);
      }
      if (options.all) return callback(null, allowed);
      callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
