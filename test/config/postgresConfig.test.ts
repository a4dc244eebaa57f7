import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../app/config/parse.js';
import { ConfigError } from '../../app/config/parsers.js';

const secrets = { jwtSecret: Buffer.alloc(32, 7), dataKey: Buffer.alloc(32, 9) };

describe('STORE=postgres configuration', () => {
  it('takes STORE=postgres with a postgres:// or postgresql:// DATABASE_URL, and the pool defaults', () => {
    const config = parseConfig({ STORE: 'postgres', DATABASE_URL: 'postgres://signalbox:secret@127.0.0.1:5432/signalbox?sslmode=require' }, secrets);
    expect(config.store).toBe('postgres');
    expect(config.databaseUrl).toBe('postgres://signalbox:secret@127.0.0.1:5432/signalbox?sslmode=require');
    expect(config.pgPoolMax).toBe(10);
    expect(config.pgStatementTimeoutMs).toBe(5000);
    expect(parseConfig({ STORE: 'postgres', DATABASE_URL: 'postgresql://db.internal/signalbox' }, secrets).databaseUrl).toBe('postgresql://db.internal/signalbox');
  });

  it('refuses STORE=postgres without DATABASE_URL, in one line naming it', () => {
    expect(() => parseConfig({ STORE: 'postgres' }, secrets)).toThrow(new ConfigError('DATABASE_URL: must be set when STORE=postgres'));
  });

  it.each(['mysql://127.0.0.1/db', 'postgres://', 'not a url', '127.0.0.1:5432/db'])('refuses DATABASE_URL=%s without echoing it', (url) => {
    let message = '';
    try {
      parseConfig({ STORE: 'postgres', DATABASE_URL: url }, secrets);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(message).not.toContain('\n');
  });

  it('takes PG_POOL_MAX and PG_STATEMENT_TIMEOUT_MS within their bounds and refuses others', () => {
    const config = parseConfig({ STORE: 'postgres', DATABASE_URL: 'postgres://h/db', PG_POOL_MAX: '25', PG_STATEMENT_TIMEOUT_MS: '2000' }, secrets);
    expect([config.pgPoolMax, config.pgStatementTimeoutMs]).toEqual([25, 2000]);
    expect(() => parseConfig({ PG_POOL_MAX: '0' }, secrets)).toThrow(/^PG_POOL_MAX: must be a whole number from 1 to 1000/);
    expect(() => parseConfig({ PG_STATEMENT_TIMEOUT_MS: '5s' }, secrets)).toThrow(/^PG_STATEMENT_TIMEOUT_MS: must be a whole number/);
  });
});
