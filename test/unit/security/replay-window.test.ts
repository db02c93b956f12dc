// The anti-replay window against a reference model: a datagram (epoch, sequence) is accepted when its
// epoch is newer than the newest seen, or it is of the newest epoch, unseen, and no more than 63 below
// the highest sequence accepted in that epoch.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRESH, REPLAY, REPLAY_WINDOW_SIZE, ReplayWindow } from '../../../reflector/security/replay-window.js';

class Model {
  epoch = -1;
  top = 0;
  readonly seen = new Set<number>();
  accepts(epoch: number, sequence: number): boolean {
    if (epoch !== this.epoch) return epoch > this.epoch;
    if (sequence > this.top) return true;
    return this.top - sequence < REPLAY_WINDOW_SIZE && !this.seen.has(sequence);
  }
  accept(epoch: number, sequence: number): void {
    if (epoch !== this.epoch) {
      this.epoch = epoch;
      this.top = sequence;
      this.seen.clear();
    }
    this.top = Math.max(this.top, sequence);
    this.seen.add(sequence);
  }
}

describe('ReplayWindow', () => {
  it('accepts what the model accepts, in any order, across epochs and the 32-bit range', () => {
    const datagram = fc.record({
      epoch: fc.integer({ min: 0, max: 3 }).map((e) => 1_700_000_000_000 + e),
      sequence: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0xffffff00, max: 0xffffffff })),
      authentic: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(datagram, { maxLength: 300 }), (datagrams) => {
        const window = new ReplayWindow();
        const model = new Model();
        for (const d of datagrams) {
          const fresh = window.check(d.epoch, d.sequence) === FRESH;
          expect(fresh).toBe(model.accepts(d.epoch, d.sequence));
          // Only authenticated datagrams move the window (a forged one is dropped after check()).
          if (fresh && d.authentic) {
            window.update(d.epoch, d.sequence);
            model.accept(d.epoch, d.sequence);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a duplicate, one 64 below the top, and an older epoch; takes a newer epoch from sequence 0', () => {
    const w = new ReplayWindow();
    expect(w.check(10, 100)).toBe(FRESH);
    w.update(10, 100);
    expect(w.check(10, 100)).toBe(REPLAY);
    expect(w.check(10, 37)).toBe(FRESH); // 63 below
    expect(w.check(10, 36)).toBe(REPLAY); // 64 below
    expect(w.check(9, 101)).toBe(REPLAY);
    expect(w.check(11, 0)).toBe(FRESH);
    w.update(11, 0);
    expect(w.check(10, 101)).toBe(REPLAY);
    expect(w.check(11, 0)).toBe(REPLAY);
    expect(w.check(11, 1)).toBe(FRESH);
  });

  it('shifts the bitmap by 31, 32, 33 and 63 correctly', () => {
    for (const shift of [1, 31, 32, 33, 63, 64, 1000]) {
      const w = new ReplayWindow();
      w.update(1, 1000);
      w.update(1, 1000 + shift);
      expect(w.check(1, 1000), `shift ${shift}`).toBe(REPLAY);
      expect(w.check(1, 1000 + shift)).toBe(REPLAY);
      if (shift > 1 && shift < 64) expect(w.check(1, 1001)).toBe(FRESH);
    }
  });
});
