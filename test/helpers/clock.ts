import type { Clock } from '../../app/lib/clock.js';

/** A clock that moves only when told, for expiry tests without sleeping. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
