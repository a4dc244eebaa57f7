import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../app/config/parse.js';
import { ConfigError } from '../../app/config/parsers.js';

const secrets = { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) };

describe('rate limit configuration', () => {
  it('defaults to the documented limits', () => {
    expect(parseConfig({}, secrets).rateLimits).toEqual({
      loginFailuresPerAccountIp: { max: 10, windowSeconds: 900 },
      loginFailuresPerUsername: { max: 100, windowSeconds: 3600 },
      loginCodeFailuresPerAccount: { max: 30, windowSeconds: 86400 },
      loginPerIp: { max: 50, windowSeconds: 300 },
      passwordChecksPerUser: { max: 10, windowSeconds: 900 },
      registerPerIp: { max: 10, windowSeconds: 3600 },
      registerPerEmail: { max: 3, windowSeconds: 3600 },
      forgotPerIp: { max: 10, windowSeconds: 3600 },
      forgotPerEmailIp: { max: 3, windowSeconds: 3600 },
      forgotPerEmail: { max: 10, windowSeconds: 3600 },
      resetPerEmailIp: { max: 10, windowSeconds: 3600 },
      resetPerEmail: { max: 30, windowSeconds: 3600 },
      resetPerIp: { max: 10, windowSeconds: 3600 },
      searchPerUser: { max: 60, windowSeconds: 60 },
      sendPerUser: { max: 1200, windowSeconds: 60 },
      connectionRequestsPerUser: { max: 30, windowSeconds: 3600 },
      icePerUser: { max: 30, windowSeconds: 60 },
      pgpUploadPerUser: { max: 10, windowSeconds: 3600 },
      pgpUploadPerIp: { max: 30, windowSeconds: 3600 },
      keyBackupPerUser: { max: 10, windowSeconds: 3600 },
      pushSubscribePerUser: { max: 30, windowSeconds: 3600 },
    });
  });

  it('groups IPv6 by /56 unless RATE_IPV6_PREFIX says otherwise, and stops on a prefix out of range', () => {
    expect(parseConfig({}, secrets).rateIpv6Prefix).toBe(56);
    expect(parseConfig({ RATE_IPV6_PREFIX: '64' }, secrets).rateIpv6Prefix).toBe(64);
    expect(() => parseConfig({ RATE_IPV6_PREFIX: '65' }, secrets)).toThrow(/^RATE_IPV6_PREFIX: must be a whole number from 32 to 64/);
  });

  it('reads max/seconds and off', () => {
    const { rateLimits } = parseConfig({ RATE_LOGIN_IP: '5/30', RATE_SEARCH_USER: 'OFF' }, secrets);
    expect(rateLimits.loginPerIp).toEqual({ max: 5, windowSeconds: 30 });
    expect(rateLimits.searchPerUser).toBeNull();
  });

  it.each(['10', '10/0', '0/60', 'ten/60', '-1/60', '10/60/5'])('stops on %s with a line naming the variable', (value) => {
    expect(() => parseConfig({ RATE_LOGIN_IP: value }, secrets)).toThrow(ConfigError);
    expect(() => parseConfig({ RATE_LOGIN_IP: value }, secrets)).toThrow(/^RATE_LOGIN_IP: must be max\/seconds/);
  });
});
