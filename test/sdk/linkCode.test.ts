import { describe, expect, it } from '@jest/globals';
import { formatCode, linkDigest, LINK_QR_PREFIX, parseCode } from '../../client/src/linkCode.js';

// docs/protocol.md "Device linking", "The code": the worked example there, byte for byte.

const FINGERPRINT = '5D890BF62F00FF614707006447CEA4A933CA0FB5';

describe('the device-link code', () => {
  it('is base32 of the first 10 bytes of SHA-256 of the fingerprint bytes (the documented example)', async () => {
    expect(await linkDigest(FINGERPRINT)).toBe('LAQLURX7YXTPHVY7');
    expect(await linkDigest(FINGERPRINT.toLowerCase())).toBe('LAQLURX7YXTPHVY7');
    expect(formatCode('LAQLURX7YXTPHVY7')).toBe('LAQL-URX7-YXTP-HVY7');
  });

  it('changes with any other key', async () => {
    expect(await linkDigest(FINGERPRINT.replace(/5$/, '4'))).not.toBe('LAQLURX7YXTPHVY7');
  });

  it('reads what people type or scan: case, dashes, spaces, the QR prefix, 0/1/8 for O/I/B', () => {
    for (const typed of ['LAQL-URX7-YXTP-HVY7', 'laql urx7 yxtp hvy7', `${LINK_QR_PREFIX}LAQLURX7YXTPHVY7`, ' LAQLURX7YXTPHVY7 ']) {
      expect(parseCode(typed)).toBe('LAQLURX7YXTPHVY7');
    }
    expect(parseCode('0118-AAAA-AAAA-AAAA')).toBe('OIIBAAAAAAAAAAAA');
  });

  it('refuses what is not a code (validation_failed)', () => {
    for (const bad of ['', 'LAQL-URX7-YXTP', 'LAQL-URX7-YXTP-HVY7-AAAA', 'LAQL-URX7-YXTP-HVY9']) {
      expect(() => parseCode(bad)).toThrow(expect.objectContaining({ code: 'validation_failed' }));
    }
  });
});
