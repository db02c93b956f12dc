// Loss, duplicates and reordering of one RTP source, from its 16-bit sequence numbers. Sequence numbers
// are extended to a running count (RFC 3550 §A.1's cycles, done by picking the extension closest to the
// highest seen), and the holes are kept as ranges, so a late arrival fills its hole (it is reordered, not
// lost) and a second copy of a datagram is recognised exactly as a duplicate. Each hole remembers when
// it was opened, so loss can be attributed to a moment (a migration, a failover).

const SEQUENCE_MODULO = 0x1_0000;
const HALF_SEQUENCE = 0x8000;
/**
 * Holes kept at most; past this the oldest are forgotten (still counted as lost, but a late copy of
 * one would then be taken for a duplicate). Only a pathological stream has this many separate holes.
 */
const MAX_HOLES = 65_536;

export type ArrivalKind = 'next' | 'late' | 'duplicate';

/** A run of missing extended sequence numbers, [first, last], and when it was noticed. */
interface Hole {
  first: number;
  last: number;
  /** Arrival time (ms) of the datagram received just before the hole opened. */
  afterMs: number;
  /** Arrival time (ms) of the datagram whose sequence number revealed the hole. */
  detectedMs: number;
}

export class SequenceTracker {
  private started = false;
  private base = 0;
  private highest = 0;
  private lastArrivalMs = 0;
  /** Sorted by `first`, disjoint. */
  private holes: Hole[] = [];
  /** Datagrams received once each (duplicates excluded). */
  received = 0;
  duplicates = 0;
  /** Datagrams that arrived after one with a higher sequence number (late arrivals). */
  reordered = 0;

  /** Records a datagram; returns whether it was the next in order (or after a gap), late, or a copy. */
  record(sequence: number, arrivalMs: number): ArrivalKind {
    if (!this.started) {
      this.started = true;
      this.base = this.highest = sequence;
      this.received = 1;
      this.lastArrivalMs = arrivalMs;
      return 'next';
    }
    const extended = this.extend(sequence);
    if (extended > this.highest) {
      if (extended > this.highest + 1) {
        this.addHole({ first: this.highest + 1, last: extended - 1, afterMs: this.lastArrivalMs, detectedMs: arrivalMs });
      }
      this.highest = extended;
      this.received++;
      this.lastArrivalMs = arrivalMs;
      return 'next';
    }
    if (extended < this.base) {
      // Older than the first datagram seen: the stream started earlier than we joined it, or reordered
      // at its very start. Everything between is now expected.
      if (extended < this.base - 1) {
        this.holes.unshift({ first: extended + 1, last: this.base - 1, afterMs: arrivalMs, detectedMs: arrivalMs });
      }
      this.base = extended;
      this.received++;
      this.reordered++;
      return 'late';
    }
    if (this.fill(extended)) {
      this.received++;
      this.reordered++;
      return 'late';
    }
    this.duplicates++;
    return 'duplicate';
  }

  /** Datagrams the sender sent from the first to the highest sequence number seen. */
  get expected(): number {
    return this.started ? this.highest - this.base + 1 : 0;
  }

  get lost(): number {
    return this.expected - this.received;
  }

  get highestExtended(): number {
    return this.highest;
  }

  /** Datagrams still missing from holes noticed during [fromMs, toMs] (they opened before toMs and were revealed after fromMs). */
  lostBetween(fromMs: number, toMs: number): number {
    let count = 0;
    for (const hole of this.holes) {
      if (hole.afterMs <= toMs && hole.detectedMs >= fromMs) count += hole.last - hole.first + 1;
    }
    return count;
  }

  /** The extended sequence number closest to the highest seen (so a wrap goes forward, a late one back). */
  private extend(sequence: number): number {
    const cycles = this.highest - (this.highest % SEQUENCE_MODULO);
    let extended = cycles + sequence;
    if (extended - this.highest > HALF_SEQUENCE) extended -= SEQUENCE_MODULO;
    else if (this.highest - extended >= HALF_SEQUENCE) extended += SEQUENCE_MODULO;
    return extended;
  }

  private addHole(hole: Hole): void {
    this.holes.push(hole);
    if (this.holes.length > MAX_HOLES) this.holes.shift();
  }

  /** Removes `extended` from the holes; false when it was not missing (a duplicate). */
  private fill(extended: number): boolean {
    // Late arrivals are usually recent: search from the newest hole backwards.
    for (let i = this.holes.length - 1; i >= 0; i--) {
      const hole = this.holes[i]!;
      if (extended > hole.last) return false;
      if (extended < hole.first) continue;
      if (hole.first === hole.last) this.holes.splice(i, 1);
      else if (extended === hole.first) hole.first++;
      else if (extended === hole.last) hole.last--;
      else {
        this.holes.splice(i + 1, 0, { ...hole, first: extended + 1 });
        hole.last = extended - 1;
      }
      return true;
    }
    return false;
  }
}
