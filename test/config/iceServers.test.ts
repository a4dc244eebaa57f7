import { describe, expect, it } from '@jest/globals';
import type { Env } from '../../app/config/environment.js';
import { parseConfig } from '../../app/config/parse.js';
import { ConfigError } from '../../app/config/parsers.js';

const secrets = { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) };
const SECRET = 'a-turn-secret-of-some-length';
/** The one line main.ts would print before exiting 78, or null when the environment is accepted. */
const problem = (env: Env) => {
  try {
    parseConfig(env, secrets);
    return null;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
};

describe('ICE server configuration', () => {
  it('reads STUN and TURN URL lists with ports and transports', () => {
    const config = parseConfig(
      {
        STUN_URLS: 'stun:stun.example.org, stun:[2001:db8::1]:3478',
        TURN_URLS: 'turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349?transport=tcp',
        TURN_SECRET: SECRET,
      },
      secrets,
    );
    expect(config.stunUrls).toEqual(['stun:stun.example.org', 'stun:[2001:db8::1]:3478']);
    expect(config.turnUrls).toEqual(['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349?transport=tcp']);
  });

  it.each([
    ['TURN_URLS', 'https://turn.example.org'],
    ['TURN_URLS', 'turn:turn.example.org:3478?transport=sctp'],
    ['TURN_URLS', 'turn://user:pass@turn.example.org'],
    ['TURN_URLS', 'stun:stun.example.org'],
    ['STUN_URLS', 'turn:turn.example.org'],
    ['STUN_URLS', 'stun:bad host'],
  ])('stops on a malformed URL, naming %s (%s)', (name, value) => {
    expect(problem({ [name]: value, TURN_SECRET: SECRET })).toMatch(new RegExp(`^${name}: `));
  });

  it('stops when TURN_URLS is set without TURN_SECRET or static credentials', () => {
    expect(problem({ TURN_URLS: 'turn:turn.example.org' })).toMatch(/^TURN_SECRET: /);
  });

  it('stops on a TURN_SECRET shorter than 16 characters', () => {
    expect(problem({ TURN_URLS: 'turn:turn.example.org', TURN_SECRET: 'short' })).toMatch(/^TURN_SECRET: /);
  });

  it('stops on TURN_USERNAME without TURN_CREDENTIAL', () => {
    expect(problem({ TURN_URLS: 'turn:turn.example.org', TURN_USERNAME: 'shared' })).toMatch(/^TURN_/);
  });

  it('stops on a TURN_TTL below one minute', () => {
    expect(problem({ TURN_TTL: '10' })).toMatch(/^TURN_TTL: /);
  });

  it('stops on a malformed RATE_ICE_USER', () => {
    expect(problem({ RATE_ICE_USER: 'lots' })).toMatch(/^RATE_ICE_USER: /);
  });
});
