import { describe, expect, it } from '@jest/globals';
import { addressRange } from '../../app/push/addressRange.js';
import { endpointFormProblem, isBlockedAddress } from '../../app/push/endpoint.js';

// The push SSRF guard's classifier (ipaddr.js ranges, IPv4 inside IPv6 unwrapped): every form an attack
// review found missing, and its neighbours, refused; public unicast addresses let through.
const defaults = { allowHttp: false, allowPrivate: false };

describe('addressRange: refused forms', () => {
  it.each([
    // the forms the hand-written list missed
    ['::7f00:1', 'ipv4Compatible/loopback'],
    // ipaddr.js reads the dotted IPv4-compatible form as IPv4-mapped: the same IPv4 address is judged
    ['::127.0.0.1', 'ipv4Mapped/loopback'],
    ['::a00:1', 'ipv4Compatible/private'],
    ['::a9fe:a9fe', 'ipv4Compatible/linkLocal'],
    ['::ffff:0:7f00:1', 'rfc6145/loopback'],
    ['::ffff:0:a00:1', 'rfc6145/private'],
    ['64:ff9b:1::7f00:1', 'rfc6052/localUse'],
    ['64:ff9b:1:2:3:4:808:808', 'rfc6052/localUse'],
    // embedded IPv4 forms
    ['::ffff:127.0.0.1', 'ipv4Mapped/loopback'],
    ['::ffff:7f00:1', 'ipv4Mapped/loopback'],
    ['::ffff:169.254.169.254', 'ipv4Mapped/linkLocal'],
    ['::ffff:100.64.0.1', 'ipv4Mapped/carrierGradeNat'],
    ['64:ff9b::7f00:1', 'rfc6052/loopback'],
    ['64:ff9b::a9fe:a9fe', 'rfc6052/linkLocal'],
    ['2002:7f00:1::1', '6to4/loopback'],
    ['2002:a00:1::', '6to4/private'],
    ['2002:c0a8:101::1', '6to4/private'],
    // Teredo: server 65.54.227.120, client 127.0.0.1 (stored inverted: 80ff:fffe)
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'teredo/loopback'],
    // Teredo: server 10.0.0.1, client public
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'teredo/private'],
    // IPv4
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.1.2.3', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['169.254.169.254', 'linkLocal'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['fec0::1', 'deprecatedSiteLocal'],
    ['ff02::1', 'multicast'],
    ['100::1', 'discard'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['2001:2::1', 'benchmarking'],
    ['2001:10::1', 'deprecatedOrchid'],
    ['5f00::1', 'segmentRouting'],
    // not an address
    ['not an ip', 'invalid'],
    ['localhost', 'invalid'],
  ])('%s is %s: refused', (address, range) => {
    expect(addressRange(address)).toBe(range);
    expect(isBlockedAddress(address)).toBe(true);
  });

  it.each(['::7f00:1', '::a00:1', '::ffff:0:7f00:1', '64:ff9b:1::7f00:1', '::ffff:7f00:1', '2002:7f00:1::1'])('refuses an endpoint URL on [%s]', (address) => {
    expect(endpointFormProblem(`https://[${address}]/push`, defaults)).toBe('must name a public host, not a loopback, private or reserved address');
  });
});

describe('addressRange: public unicast allowed', () => {
  it.each([
    '8.8.8.8',
    '142.250.74.110',
    '2a00:1450:4001:80b::200e',
    '2606:4700::6810:84e5',
    // embedded public IPv4 addresses: judged by the IPv4 inside
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '2001:0:4136:e378:8000:63bf:f7f7:f7f7',
  ])('%s is unicast', (address) => {
    expect(addressRange(address)).toBe('unicast');
    expect(isBlockedAddress(address)).toBe(false);
  });

  it('accepts an endpoint URL on a public address literal', () => {
    expect(endpointFormProblem('https://[2a00:1450:4001:80b::200e]/push', defaults)).toBeNull();
    expect(endpointFormProblem('https://142.250.74.110/push', defaults)).toBeNull();
  });
});
