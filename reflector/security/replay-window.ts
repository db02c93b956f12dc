// The anti-replay window of one peer on one data port (docs/protocol.md §2.4), after IPsec's
// (RFC 4303 §3.4.3): the highest sequence number accepted so far and a 64-bit bitmap of which of the
// 64 numbers up to it were seen. A number above the top is new; one inside the window is new when its
// bit is clear; one below the window is too old to tell and is refused. The sender's epoch sits above
// the sequence: a datagram of a newer epoch (the peer restarted, or its 32-bit sequence wrapped) starts
// the window afresh, one of an older epoch is a replay.
//
// check() is done before the tag is verified (cheap rejection of replays), update() only after the tag
// verified, so a forged datagram can never move the window. The bitmap is two 32-bit halves so the hot
// path stays in small integers (no BigInt, nothing allocated).

/** Width of the window: sequence numbers up to this far below the highest one may still arrive late. */
export const REPLAY_WINDOW_SIZE = 64;

/** Not seen before: verify the tag, then update(). */
export const FRESH = 0;
/** Seen before, below the window, or of an older epoch. */
export const REPLAY = 1;
export type ReplayVerdict = typeof FRESH | typeof REPLAY;

export class ReplayWindow {
  /** Epoch of the window; -1 before the first accepted datagram. */
  epoch = -1;
  /** Highest sequence accepted in this epoch. */
  top = 0;
  /** Bits 0-31 of the bitmap: bit i set = sequence top - i was accepted. */
  low = 0;
  /** Bits 32-63. */
  high = 0;

  check(epoch: number, sequence: number): ReplayVerdict {
    if (epoch !== this.epoch) return epoch > this.epoch ? FRESH : REPLAY;
    if (sequence > this.top) return FRESH;
    const behind = this.top - sequence;
    if (behind >= REPLAY_WINDOW_SIZE) return REPLAY;
    const bit = behind < 32 ? (this.low >>> behind) & 1 : (this.high >>> (behind - 32)) & 1;
    return bit === 1 ? REPLAY : FRESH;
  }

  /** Records an authenticated datagram that check() found fresh. */
  update(epoch: number, sequence: number): void {
    if (epoch !== this.epoch) {
      // A newer epoch (check() refused older ones): a fresh sequence space.
      this.epoch = epoch;
      this.top = sequence;
      this.low = 1;
      this.high = 0;
      return;
    }
    if (sequence > this.top) {
      const shift = sequence - this.top;
      this.top = sequence;
      if (shift >= REPLAY_WINDOW_SIZE) {
        this.low = 1;
        this.high = 0;
      } else if (shift >= 32) {
        this.high = shift === 32 ? this.low : (this.low << (shift - 32)) >>> 0;
        this.low = 1;
      } else {
        this.high = ((this.high << shift) | (this.low >>> (32 - shift))) >>> 0;
        this.low = ((this.low << shift) | 1) >>> 0;
      }
      return;
    }
    const behind = this.top - sequence;
    if (behind < 32) this.low = (this.low | (1 << behind)) >>> 0;
    else this.high = (this.high | (1 << (behind - 32))) >>> 0;
  }
}
