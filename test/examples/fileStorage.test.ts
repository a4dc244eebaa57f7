import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage } from '../../examples/node-peer/fileStorage.js';

// The Node peer's storage (examples/node-peer/fileStorage.ts): AsyncStorage's shape over one JSON file.

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'signalbox-file-storage-'));
  file = join(dir, 'nested', 'peer.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FileStorage', () => {
  it('keeps what was set for the next instance (the next start), creating the folder, readable by the owner only', async () => {
    const first = new FileStorage(file);
    await first.setItem('signalbox.session', '{"deviceId":"d1"}');
    await first.setItem('gone', 'x');
    await first.removeItem('gone');
    const next = new FileStorage(file);
    expect(await next.getItem('signalbox.session')).toBe('{"deviceId":"d1"}');
    expect(await next.getItem('gone')).toBeNull();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('keeps every one of many writes made at once, in order, and leaves no temp file behind', async () => {
    const storage = new FileStorage(file);
    await Promise.all(Array.from({ length: 50 }, (_, i) => storage.setItem(`k${i % 10}`, String(i))));
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(onDisk).toEqual(Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`k${k}`, String(40 + k)])));
    expect(readdirSync(join(dir, 'nested'))).toEqual(['peer.json']);
  });

  it('refuses to start over a file it cannot read as JSON instead of replacing it (the private key may be in it)', async () => {
    const storage = new FileStorage(join(dir, 'broken.json'));
    writeFileSync(join(dir, 'broken.json'), '{"signalbox.session": tru');
    await expect(storage.getItem('signalbox.session')).rejects.toThrow(SyntaxError);
    expect(readFileSync(join(dir, 'broken.json'), 'utf8')).toBe('{"signalbox.session": tru');
  });
});
