import { isIPv4, isIPv6 } from 'node:net';

/** How many leading bits of an IPv6 address name one client network by default (RATE_IPV6_PREFIX). */
export const DEFAULT_IPV6_PREFIX = 56;

/**
 * The network a client address belongs to, for per-client limits: an IPv4 address as it is, an
 * IPv6 address as its first `ipv6Prefix` bits (`2001:db8:1:200::/56`), and an IPv4-mapped IPv6
 * address (`::ffff:192.0.2.7`, as dual-stack sockets report IPv4 peers) as the IPv4 address.
 * Counting per IPv6 address would hand an attacker 2^64 fresh identities per /64; and a subscriber
 * is commonly delegated a /56 (RIPE-690 recommends /48 or /56 per customer), so the default /56
 * still counts one household as one network while a /48 holds only 256 of them, not 65,536 /64s.
 * Anything that is not an IP address is returned unchanged.
 */
export function clientNetwork(ip: string, ipv6Prefix: number = DEFAULT_IPV6_PREFIX): string {
  const address = ip.trim();
  if (isIPv4(address)) return address;
  const unzoned = address.replace(/%.*$/, ''); // fe80::1%eth0: the zone names an interface, not a host
  if (!isIPv6(unzoned)) return ip;
  const words = ipv6Words(unzoned);
  // ::ffff:a.b.c.d (RFC 4291 2.5.5.2): 80 zero bits, 16 one bits, then the IPv4 address.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return [words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.');
  }
  const kept = Math.ceil(ipv6Prefix / 16);
  const masked = words.slice(0, kept).map((w, i) => {
    const bits = Math.min(16, ipv6Prefix - i * 16); // the last kept word may be cut part-way
    return w & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${masked.map((w) => w.toString(16)).join(':')}::/${ipv6Prefix}`;
}

/** The eight 16-bit words of a valid IPv6 address (with `::` expanded and a dotted IPv4 tail converted). */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((w) => parseInt(w, 16));
}

/**
 * The coarse network an address belongs to, as the security log shows it (docs/security.md): an IPv4
 * address (or an IPv4-mapped IPv6 one) as its /24 (`192.0.2.0/24`), an IPv6 address as its /48
 * (`2001:db8:1::/48`, what one site is usually given). Enough for an owner to tell "home" from "somewhere
 * else", not enough to locate a household. Anything that is not an IP address gives null.
 */
export function coarseNetwork(ip: string): string | null {
  const address = ip.trim();
  const v4 = isIPv4(address) ? address : null;
  const unzoned = address.replace(/%.*$/, '');
  if (!v4 && !isIPv6(unzoned)) return null;
  if (v4) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  const words = ipv6Words(unzoned);
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.0/24`;
  }
  const head = words.slice(0, 3);
  // Trailing zero words of the prefix are left to `::`, as an address would be written (2001:db8::/48).
  while (head.length > 0 && head[head.length - 1] === 0) head.pop();
  return `${head.map((w) => w.toString(16)).join(':')}::/48`;
}
