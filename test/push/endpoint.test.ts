import { describe, expect, it } from '@jest/globals';
import { isBlockedAddress, safeLookup } from '../../app/push/endpoint.js';

describe('isBlockedAddress', () => {
  it.each(['127.0.0.1', '10.0.0.1', '169.254.169.254', '::1', '::ffff:10.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', 'fd12::1', 'ff02::1', 'not an ip'])(
    'blocks %s',
    (address) => {
      expect(isBlockedAddress(address)).toBe(true);
    },
  );

  it.each(['8.8.8.8', '142.250.74.110', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])('lets %s through', (address) => {
    expect(isBlockedAddress(address)).toBe(false);
  });
});

describe('safeLookup (the check when a push connects, against DNS rebinding)', () => {
  const lookup = (allowPrivate: boolean, host: string) =>
    new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
      safeLookup({ allowHttp: false, allowPrivate })(host, {}, (err, address) => resolve({ err, address })),
    );

  it('refuses a name that resolves to loopback when private addresses are not allowed', async () => {
    const { err } = await lookup(false, 'localhost');
    expect(err?.code).toBe('EPUSHBLOCKED');
  });

  it('resolves it when they are', async () => {
    const { err, address } = await lookup(true, 'localhost');
    expect(err).toBeNull();
    expect(isBlockedAddress(address as string)).toBe(true);
  });
});
