// The reflector's outbound rate, sampled every second, and the stream count that rate is to be divided
// by. The operator plans with the per-stream rate (bits ÷ streams, operator/controller/sizing.ts), and
// the two must describe the same second: the bits are counted over a window, while a client leaving or
// joining changes the stream count at once. Divided by the count of the window's end, the bits that
// four leaving clients sent in their last second made each remaining stream look several times heavier
// than it is (seen on the real cluster: the HPA's utilisation metric read 3.0 with clients going away).
// So each window carries the larger of the counts at its two ends: bits ÷ that count never exceeds the
// real per-stream rate when the count moved inside the window (it may fall short, and a short reading
// changes nothing: the operator uses a measured rate only above the declared one).

export interface RateWindow {
  /** Outbound bits per second over the window. */
  bitsPerSecond: number;
  /** The larger of the outbound stream counts at the window's start and end. */
  streams: number;
}

export class OutboundRate {
  private last: { bytes: number; streams: number; atMs: number };
  private window: RateWindow = { bitsPerSecond: 0, streams: 0 };

  constructor(bytes: number, streams: number, atMs: number) {
    this.last = { bytes, streams, atMs };
  }

  /** Closes the window at `atMs` with the byte counter (a total that only rises) and the streams sent now. */
  sample(bytes: number, streams: number, atMs: number): void {
    const seconds = (atMs - this.last.atMs) / 1000;
    if (seconds <= 0) return;
    this.window = {
      bitsPerSecond: Math.round(((bytes - this.last.bytes) * 8) / seconds),
      streams: Math.max(this.last.streams, streams),
    };
    this.last = { bytes, streams, atMs };
  }

  /** The last closed window (zeros before the first). */
  get current(): RateWindow {
    return this.window;
  }
}
