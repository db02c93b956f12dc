// Pacing a stream at a bitrate. Timers fire late and coarsely (a setTimeout of 1 ms often takes 1-4 ms,
// more on a loaded machine), so the sender does not send one datagram per timer: on each tick it sends
// every datagram that is due by the schedule (elapsed time x rate), a burst that catches up. A stall
// longer than `maxCatchUpMs` is not made up in one burst (that would flood the receivers); the datagrams
// it skipped are counted, and the achieved rate is measured rather than assumed.

export interface PacingOptions {
  bitrateBps: number;
  packetSize: number;
  /** The longest backlog sent in one burst (default 200 ms worth of datagrams, at least one). */
  maxCatchUpMs?: number;
  /** And at most this many datagrams in one burst (default 512), which bounds the sender's buffers. */
  maxBurstDatagrams?: number;
}

/** The pure schedule: how many datagrams are due at a given elapsed time. */
export class PacingSchedule {
  readonly packetsPerSecond: number;
  /** The most datagrams `due` returns at once. */
  readonly maxBurst: number;
  /** Datagrams released so far (sent or to be sent now). */
  private released = 0;
  /** Datagrams the schedule gave up on after a stall. */
  private forfeited = 0;

  constructor(options: PacingOptions) {
    this.packetsPerSecond = options.bitrateBps / (options.packetSize * 8);
    const catchUp = Math.ceil((this.packetsPerSecond * (options.maxCatchUpMs ?? 200)) / 1000);
    this.maxBurst = Math.max(1, Math.min(catchUp, options.maxBurstDatagrams ?? 512));
  }

  /** The number of datagrams to send now, `elapsedMs` after the start. */
  due(elapsedMs: number): number {
    const target = Math.floor((elapsedMs * this.packetsPerSecond) / 1000) + 1 - this.forfeited;
    let count = target - this.released;
    if (count <= 0) return 0;
    if (count > this.maxBurst) {
      this.forfeited += count - this.maxBurst;
      count = this.maxBurst;
    }
    this.released += count;
    return count;
  }

  /** Datagrams skipped because the sender stalled for longer than it may catch up. */
  get skipped(): number {
    return this.forfeited;
  }

  /** The timer period that keeps bursts small without waking up needlessly: one datagram's time, 1-10 ms. */
  get tickMs(): number {
    return Math.min(10, Math.max(1, Math.floor(1000 / this.packetsPerSecond)));
  }
}
