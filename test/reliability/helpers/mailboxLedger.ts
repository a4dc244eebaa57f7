// What one device saw of its mailbox, kept by the test's poll loop and judged at the end.
//
// The wire shows no per-signal sequence number, only the cursor `<seq>.<mac>` (app/signaling/cursor.ts):
// the device's sequence number of the last entry handed out. A poll with `after=<seq p>` answers the
// entries after p in order, so an answer of n entries with cursor seq q must have q - p === n (no gap,
// nothing skipped), and the i-th entry of it has seq p + 1 + i. That inferred seq must be the same every
// time an id comes back, and no two ids may share one.

/** A signal as a poll answers it (the fields this ledger reads). */
export interface PolledSignal {
  id: string;
  from: string;
  type: string;
  payload: string;
}

/** The sequence number a cursor carries (its part before the dot). */
export function seqOfCursor(cursor: string): number {
  const m = /^(\d+)\./.exec(cursor);
  if (!m) throw new Error(`not a cursor: ${cursor}`);
  return Number(m[1]);
}

export interface LedgerCounts {
  /** Polls answered 200. */
  answers: number;
  /** Ids delivered for the first time. */
  delivered: number;
  /** An id delivered again before the cursor covering it was acknowledged: allowed (at-least-once). */
  duplicatesBeforeAck: number;
  /** An id delivered again after a poll acknowledging its seq was answered: a broken promise. */
  redeliveredAfterAck: number;
  /** Answers whose length did not match the cursor's advance (a gap or an overlap in the sequence). */
  gapErrors: number;
  /** An id seen at two different seqs, or two ids at one seq. */
  seqConflicts: number;
}

/** One device's view: its cursor, every id it saw (with its seq), in first-delivery order, and what it acknowledged. */
export class MailboxLedger {
  /** The cursor to pass back as `after` (undefined before the first answer). */
  cursor: string | undefined;
  readonly counts: LedgerCounts = { answers: 0, delivered: 0, duplicatesBeforeAck: 0, redeliveredAfterAck: 0, gapErrors: 0, seqConflicts: 0 };
  /** First deliveries in order. */
  readonly firstDeliveries: PolledSignal[] = [];
  /** Up to a few human-readable descriptions of what went wrong, for the failure message. */
  readonly problems: string[] = [];
  private readonly seqOf = new Map<string, number>();
  private readonly idAt = new Map<number, string>();
  /** Every seq up to this is acknowledged: a poll with `after` at it, or an ack of it, was answered. */
  private ackedUpTo = 0;
  /** Whether an ack (POST /signaling/ack) was answered 204 yet: until then a poll without `after` starts where it likes. */
  private ackConfirmed = false;

  /** The `after` query to send now (empty string for none). */
  afterQuery(): string {
    return this.cursor === undefined ? '' : `after=${encodeURIComponent(this.cursor)}&`;
  }

  /** Records a 200 answer to a poll that was sent with `after` (undefined: without). */
  record(after: string | undefined, signals: PolledSignal[], cursor: string): void {
    this.counts.answers++;
    const afterSeq = after === undefined ? undefined : seqOfCursor(after);
    // The server answered a poll carrying `after`: it acknowledged everything up to it first.
    if (afterSeq !== undefined) this.ackedUpTo = Math.max(this.ackedUpTo, afterSeq);
    this.take(afterSeq, signals, cursor);
  }

  /**
   * Records a 200 answer to a poll sent without `after` by a device that acknowledges with POST
   * /signaling/ack instead: the answer starts after the last ack the server confirmed (204), and an empty
   * one carries no position.
   */
  recordWithoutAfter(signals: PolledSignal[], cursor: string): void {
    this.counts.answers++;
    if (signals.length > 0) this.take(this.ackConfirmed ? this.ackedUpTo : undefined, signals, cursor);
  }

  /** Records a POST /signaling/ack of `cursor` answered 204. */
  acknowledged(cursor: string): void {
    this.ackConfirmed = true;
    this.ackedUpTo = Math.max(this.ackedUpTo, seqOfCursor(cursor));
  }

  /** Checks and keeps an answer of entries after `afterSeq` (undefined: unknown) ending at `cursor`. */
  private take(afterSeq: number | undefined, signals: PolledSignal[], cursor: string): void {
    const cursorSeq = seqOfCursor(cursor);
    if (afterSeq !== undefined && cursorSeq - afterSeq !== signals.length) {
      this.counts.gapErrors++;
      this.note(`after seq ${afterSeq} answered ${signals.length} entries with cursor seq ${cursorSeq}`);
    }
    const firstSeq = cursorSeq - signals.length + 1;
    signals.forEach((s, i) => {
      const seq = firstSeq + i;
      const known = this.seqOf.get(s.id);
      if (known !== undefined) {
        if (known !== seq) {
          this.counts.seqConflicts++;
          this.note(`id ${s.id} at seq ${seq}, before at ${known}`);
        }
        if (known <= this.ackedUpTo) {
          this.counts.redeliveredAfterAck++;
          this.note(`id ${s.id} (seq ${known}) delivered again after seq ${this.ackedUpTo} was acknowledged`);
        } else this.counts.duplicatesBeforeAck++;
        return;
      }
      const other = this.idAt.get(seq);
      if (other !== undefined) {
        this.counts.seqConflicts++;
        this.note(`seq ${seq} held ${other}, now ${s.id}`);
      }
      this.seqOf.set(s.id, seq);
      this.idAt.set(seq, s.id);
      this.firstDeliveries.push(s);
      this.counts.delivered++;
    });
    this.cursor = cursor;
  }

  /** Whether `id` was ever delivered to this device. */
  has(id: string): boolean {
    return this.seqOf.has(id);
  }

  private note(problem: string): void {
    if (this.problems.length < 10) this.problems.push(problem);
  }
}
