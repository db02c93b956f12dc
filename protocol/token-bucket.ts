// Per-client policing of data datagrams (docs/security.md "Limits"): two token buckets per client and
// data port, one counting datagrams, one counting UDP payload bytes, refilled at the configured rates
// and capped at the burst depth. A datagram passes when both hold enough, and then takes from both; a
// datagram that finds either short is dropped before any copy is made. The native engine does the same
// arithmetic in C (reflector/native/src/loop.c, rate_admit) over the client's slot line. The HTTP servers'
// per-source request limit (http-limits.ts) uses the same buckets, which is why they live in protocol/,
// the part both the reflector and the operator may import.

/** A rate and its burst (reflector/mirror/engine.ts ClientRateLimit; http-limits.ts builds one per server). */
export interface BucketLimit {
  packetsPerSecond: number;
  bitsPerSecond: number;
  burstMs: number;
}

/** One client's bucket state on one data port; mutated in place on the hot path (no allocation). */
export class TokenBucket {
  packets = 0;
  bytes = 0;
  /** performance.now() of the last refill; 0 = never used (starts full). */
  at = 0;
}

/** The limit turned into per-millisecond rates and bucket depths, shared by every client's bucket. */
export class RatePolicer {
  readonly packetsPerMs: number;
  readonly bytesPerMs: number;
  readonly burstPackets: number;
  readonly burstBytes: number;

  constructor(limit: BucketLimit, maxDatagramSize: number) {
    const burstSeconds = limit.burstMs / 1000;
    this.packetsPerMs = limit.packetsPerSecond / 1000;
    this.bytesPerMs = limit.bitsPerSecond / 8 / 1000;
    // A bucket always holds at least one datagram of the largest size, or nothing could ever pass.
    this.burstPackets = Math.max(1, limit.packetsPerSecond * burstSeconds);
    this.burstBytes = Math.max(maxDatagramSize, (limit.bitsPerSecond / 8) * burstSeconds);
  }

  /** Refills the bucket for the time since its last use, then takes one datagram of `length` bytes if it can. */
  admit(bucket: TokenBucket, length: number, nowMs: number): boolean {
    let packets: number;
    let bytes: number;
    if (bucket.at === 0) {
      packets = this.burstPackets;
      bytes = this.burstBytes;
    } else {
      const elapsed = nowMs > bucket.at ? nowMs - bucket.at : 0;
      packets = Math.min(this.burstPackets, bucket.packets + elapsed * this.packetsPerMs);
      bytes = Math.min(this.burstBytes, bucket.bytes + elapsed * this.bytesPerMs);
    }
    bucket.at = nowMs > 0 ? nowMs : Number.MIN_VALUE;
    const ok = (this.packetsPerMs === 0 || packets >= 1) && (this.bytesPerMs === 0 || bytes >= length);
    bucket.packets = ok ? packets - 1 : packets;
    bucket.bytes = ok ? bytes - length : bytes;
    return ok;
  }
}
