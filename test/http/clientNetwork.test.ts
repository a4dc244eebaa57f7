import { afterEach, describe, expect, it } from '@jest/globals';
import { clientNetwork, coarseNetwork } from '../../app/core/clientNetwork.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

describe('clientNetwork with a /64 prefix', () => {
  it.each([
    ['an IPv4 address as it is', '203.0.113.7', '203.0.113.7'],
    ['an IPv6 address as its /64', '2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['a compressed IPv6 address as its /64', '2001:db8::1', '2001:db8:0:0::/64'],
    ['leading zeros and upper case as one spelling', '2001:0DB8:0001:0002::abcd', '2001:db8:1:2::/64'],
    ['an IPv6 address with a dotted tail', '64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['an IPv4-mapped IPv6 address as the IPv4 address', '::ffff:192.0.2.9', '192.0.2.9'],
    ['an IPv4-mapped IPv6 address in hex as the IPv4 address', '::ffff:c000:209', '192.0.2.9'],
    ['a link-local address without its zone', 'fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['the unspecified address', '::', '0:0:0:0::/64'],
    ['something that is no address unchanged', 'not an ip', 'not an ip'],
  ])('gives %s', (_label, ip, network) => {
    expect(clientNetwork(ip, 64)).toBe(network);
  });
});

describe('clientNetwork by default (/56)', () => {
  it.each([
    ['an IPv6 address as its /56, cutting the fourth word in half', '2001:db8:1:2ab:3:4:5:6', '2001:db8:1:200::/56'],
    ['every /64 of one /56 as the same network', '2001:db8:1:2ff::1', '2001:db8:1:200::/56'],
    ['an IPv4 address as it is', '203.0.113.7', '203.0.113.7'],
    ['an IPv4-mapped IPv6 address as the IPv4 address', '::ffff:192.0.2.9', '192.0.2.9'],
  ])('gives %s', (_label, ip, network) => {
    expect(clientNetwork(ip)).toBe(network);
  });

  it('gives a /48 when asked for one', () => {
    expect(clientNetwork('2001:db8:1:2ab::1', 48)).toBe('2001:db8:1::/48');
  });
});

describe('coarseNetwork (the security log)', () => {
  it.each([
    ['an IPv4 address as its /24', '203.0.113.7', '203.0.113.0/24'],
    ['an IPv4-mapped IPv6 address as the IPv4 /24', '::ffff:192.0.2.9', '192.0.2.0/24'],
    ['an IPv6 address as its /48', '2001:db8:1:2:3:4:5:6', '2001:db8:1::/48'],
    ['an IPv6 address whose /48 ends in zeros, compressed', '2001:db8::1', '2001:db8::/48'],
    ['leading zeros and upper case as one spelling', '2001:0DB8:00AB::1', '2001:db8:ab::/48'],
    ['a link-local address without its zone', 'fe80::1%eth0', 'fe80::/48'],
    ['something that is no address as null', 'not an ip', null],
  ])('gives %s', (_label, ip, network) => {
    expect(coarseNetwork(ip)).toBe(network);
  });
});

describe('per-IP limits', () => {
  let t: TestApp;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  afterEach(() => t?.close());
  const login = (ip: string) => t.http.post('/auth/login').set('X-Forwarded-For', ip).send({ username: 'someone', password: 'wrong guess' });

  it('count every address of one IPv6 /64 together', async () => {
    t = makeTestApp({ env: { RATE_LOGIN_IP: '3/60', TRUST_PROXY: 'true' } });
    for (let i = 1; i <= 3; i++) expect((await login(`2001:db8:aa:bb::${i}`)).status).toBe(401);
    expect((await login('2001:db8:aa:bb:ffff::1')).status).toBe(429);
  });

  it('count every /64 of one IPv6 /56 together by default', async () => {
    t = makeTestApp({ env: { RATE_LOGIN_IP: '3/60', TRUST_PROXY: 'true' } });
    for (let i = 1; i <= 3; i++) expect((await login(`2001:db8:aa:b${i}::1`)).status).toBe(401);
    expect((await login('2001:db8:aa:ff::1')).status).toBe(429);
  });

  it('keep different IPv6 /56s apart', async () => {
    t = makeTestApp({ env: { RATE_LOGIN_IP: '3/60', TRUST_PROXY: 'true' } });
    for (let i = 1; i <= 3; i++) await login(`2001:db8:aa:bb::${i}`);
    expect((await login('2001:db8:aa:1bb::1')).status).toBe(401);
  });

  it('keep different IPv6 /64s apart with RATE_IPV6_PREFIX=64', async () => {
    t = makeTestApp({ env: { RATE_LOGIN_IP: '3/60', TRUST_PROXY: 'true', RATE_IPV6_PREFIX: '64' } });
    for (let i = 1; i <= 3; i++) await login(`2001:db8:aa:bb::${i}`);
    expect((await login('2001:db8:aa:bc::1')).status).toBe(401);
  });

  it('count an IPv4 address and its IPv4-mapped IPv6 form together', async () => {
    t = makeTestApp({ env: { RATE_LOGIN_IP: '2/60', TRUST_PROXY: 'true' } });
    await login('198.51.100.20');
    await login('::ffff:198.51.100.20');
    expect((await login('198.51.100.20')).status).toBe(429);
  });
});
