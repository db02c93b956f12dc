// Interarrival jitter exactly as RFC 3550 §6.4.1 computes it (the code of §A.8): the mean deviation of
// the difference in relative transit time between consecutive datagrams, smoothed with gain 1/16,
// measured in units of the stream's RTP timestamp clock and reported here in milliseconds.

const TIMESTAMP_MODULO = 2 ** 32;
const HALF_TIMESTAMP = 2 ** 31;

export class JitterEstimator {
  private previousTransit: number | undefined;
  /** J, in RTP timestamp units. */
  private jitter = 0;

  constructor(private readonly clockRate: number) {}

  /**
   * Updates the estimate with one datagram: its arrival time in ms on the receiver's clock and the RTP
   * timestamp it carries. The arrival is converted to timestamp units; only differences of transit
   * times matter, so the two clocks need no common origin.
   */
  update(arrivalMs: number, rtpTimestamp: number): void {
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = mod(arrival - rtpTimestamp, TIMESTAMP_MODULO);
    if (this.previousTransit !== undefined) {
      // Transit times are taken modulo 2^32 (RTP timestamps wrap); their difference is small.
      let d = mod(transit - this.previousTransit, TIMESTAMP_MODULO);
      if (d >= HALF_TIMESTAMP) d -= TIMESTAMP_MODULO;
      this.jitter += (Math.abs(d) - this.jitter) / 16;
    }
    this.previousTransit = transit;
  }

  /** The current estimate in RTP timestamp units (what an RTCP receiver report would carry). */
  get units(): number {
    return this.jitter;
  }

  get ms(): number {
    return (this.jitter * 1000) / this.clockRate;
  }
}

function mod(value: number, modulo: number): number {
  const r = value % modulo;
  return r < 0 ? r + modulo : r;
}
