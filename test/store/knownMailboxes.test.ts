import { describe, expect, it } from '@jest/globals';
import { KNOWN_PAYLOAD_CHARS_MAX, KnownMailboxes } from '../../app/store/sqlite/knownMailboxes.js';
import type { SignalRecord } from '../../app/store/types.js';

const record = (seq: number, payload = `p${seq}`, expiresAt = 300_000): SignalRecord => ({
  id: `id${seq}`,
  seq,
  senderId: 'alice',
  senderUsername: 'alice',
  senderDeviceId: null,
  type: 'offer',
  payload,
  sessionId: null,
  createdAt: new Date(0),
  expiresAt: new Date(expiresAt),
});
const seqs = (entries: SignalRecord[] | null) => entries?.map((e) => e.seq) ?? null;

/** What the SQLite adapter knows of a device's mailbox without reading it (the adapter's own cases: sqliteKnownEmpty.test.ts). */
describe('KnownMailboxes', () => {
  it('knows nothing of a device it was never told about, even of entries committed to it', () => {
    const known = new KnownMailboxes();
    expect(known.entries('phone', 10, 100)).toBeNull();
    known.committed('phone', [record(1)]);
    expect(known.entries('phone', 10, 100)).toBeNull();
  });

  it('answers a mailbox read empty, then exactly what commits stored in it since, in order', () => {
    const known = new KnownMailboxes();
    known.readEmpty('phone', 5);
    expect(known.entries('phone', 10, 100)).toEqual([]);
    known.committed('phone', [record(1), record(2)]);
    known.committed('phone', [record(3)]);
    expect(seqs(known.entries('phone', 10, 100))).toEqual([1, 2, 3]);
    expect(known.entries('phone', 10, 100)![0]).toEqual(record(1));
  });

  it('answers at most `limit`, skips entries expired at `now`, and nothing for a time before the empty read', () => {
    const known = new KnownMailboxes();
    known.readEmpty('phone', 5);
    known.committed('phone', [record(1, 'short', 20), record(2), record(3)]);
    expect(seqs(known.entries('phone', 10, 2))).toEqual([1, 2]);
    expect(seqs(known.entries('phone', 20, 100))).toEqual([2, 3]);
    expect(known.entries('phone', 4, 100)).toBeNull();
  });

  it('forgets a device when a commit does not say what it stored there, when told to, and everything on clear', () => {
    const known = new KnownMailboxes();
    for (const d of ['a', 'b', 'c']) known.readEmpty(d, 0);
    known.committed('a', null);
    known.forget('b');
    expect(known.entries('a', 1, 100)).toBeNull();
    expect(known.entries('b', 1, 100)).toBeNull();
    expect(known.entries('c', 1, 100)).toEqual([]);
    known.clear();
    expect(known.entries('c', 1, 100)).toBeNull();
  });

  it('forgets a device rather than hold more than its bound of payload characters, and counts forgotten ones back', () => {
    const known = new KnownMailboxes();
    const half = 'x'.repeat(KNOWN_PAYLOAD_CHARS_MAX / 2);
    known.readEmpty('a', 0);
    known.readEmpty('b', 0);
    known.committed('a', [record(1, half)]);
    known.committed('b', [record(1, half), record(2, 'one too many')]);
    expect(seqs(known.entries('a', 1, 100))).toEqual([1]);
    expect(known.entries('b', 1, 100)).toBeNull();
    // Once `a` is forgotten its characters are free again.
    known.forget('a');
    known.readEmpty('b', 0);
    known.committed('b', [record(1, half), record(2, 'fits now')]);
    expect(seqs(known.entries('b', 1, 100))).toEqual([1, 2]);
  });
});
