import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { isPublicUnicast } from './addressRange.js';

/** What push endpoints may be: https only unless PUSH_ALLOW_HTTP, public addresses only unless PUSH_ALLOW_PRIVATE. */
export interface EndpointPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
}

/** Longest endpoint URL accepted: real Web Push endpoints are a few hundred characters. */
export const ENDPOINT_MAX_LENGTH = 2048;

/**
 * True when `address` (an IP literal, or anything else) is one a push endpoint may not reach without
 * PUSH_ALLOW_PRIVATE: everything ipaddr.js does not classify as `unicast`, with IPv4 addresses inside
 * IPv6 ones judged too (addressRange.ts).
 */
export function isBlockedAddress(address: string): boolean {
  return !isPublicUnicast(address);
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
      if (err) {
        callback(err, []);
        return;
      }
      const allowed = policy.allowPrivate ? addresses : addresses.filter((a) => !isBlockedAddress(a.address));
      if (allowed.length === 0) {
        const refusal: NodeJS.ErrnoException = new Error(`push endpoint ${hostname} resolves to no public address`);
        refusal.code = 'EPUSHBLOCKED';
        callback(refusal, []);
      } else if (options.all) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}
