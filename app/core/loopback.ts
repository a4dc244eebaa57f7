import { isIPv4 } from 'node:net';

/**
 * True for a loopback client address: 127.0.0.0/8, ::1, or 127.x.y.z as an IPv4-mapped IPv6
 * address (`::ffff:127.0.0.1`, as dual-stack sockets report IPv4 peers).
 */
export function isLoopback(ip: string): boolean {
  const address = ip.trim().toLowerCase();
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  if (isIPv4(v4)) return v4.startsWith('127.');
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}
