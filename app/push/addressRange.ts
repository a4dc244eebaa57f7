import ipaddr from 'ipaddr.js';
import { isIP } from 'node:net';

/**
 * Classifies an IP address for the push SSRF guard with ipaddr.js's range tables (IANA special-purpose
 * registries, kept up to date by that library rather than by us). Answers `unicast` for an address a
 * push endpoint may reach, else the name of the range that refuses it: `loopback`, `private`,
 * `linkLocal`, `uniqueLocal`, `reserved`, `multicast`, `carrierGradeNat`, ...
 *
 * IPv6 forms that carry an IPv4 address are judged by it, because that is where a packet ends up:
 * IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`,
 * which ipaddr.js calls unicast), NAT64 with the well-known prefix (`64:ff9b::a.b.c.d`), 6to4 (`2002:AABB:CCDD::`)
 * and Teredo (server and client both). The answer then reads `ipv4Mapped/loopback`. NAT64 under the
 * local-use prefix `64:ff9b:1::/48` is refused whole: its operator chooses the prefix length and so where
 * the IPv4 address sits (RFC 6052 section 2.2), so nobody outside that network can tell what it reaches.
 * Anything that is not an IP address answers `invalid`.
 */
export function addressRange(address: string): string {
  if (isIP(address) === 0) return 'invalid';
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') return parsed.range();
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  const p = v6.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const inner = (form: string, ...embedded: ipaddr.IPv4[]) => {
    const refused = embedded.map((a) => a.range()).find((r) => r !== 'unicast');
    return refused === undefined ? 'unicast' : `${form}/${refused}`;
  };
  switch (range) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return inner(range, v4(p[6]!, p[7]!));
    case 'rfc6052':
      // 64:ff9b::/96 carries the IPv4 address in its last 32 bits; 64:ff9b:1::/48 (local use) anywhere.
      return p[1] === 0xff9b && p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0 ? inner(range, v4(p[6]!, p[7]!)) : `${range}/localUse`;
    case '6to4':
      return inner(range, v4(p[1]!, p[2]!));
    case 'teredo':
      // RFC 4380 section 4: the server's address as is, the client's with every bit inverted.
      return inner(range, v4(p[2]!, p[3]!), v4(p[6]! ^ 0xffff, p[7]! ^ 0xffff));
    case 'unicast':
      // ::a.b.c.d, IPv4-compatible (deprecated by RFC 4291 but still routed by some stacks).
      if (p.slice(0, 6).every((g) => g === 0)) return inner('ipv4Compatible', v4(p[6]!, p[7]!));
      return 'unicast';
    default:
      return range;
  }
}

/** True when a push endpoint may reach `address` (an IP literal) without PUSH_ALLOW_PRIVATE. */
export const isPublicUnicast = (address: string): boolean => addressRange(address) === 'unicast';
