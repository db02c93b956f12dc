// The work queue of mesh keys ("namespace/name"), as client-go's: a key queued many times is processed
// once; a key is never processed by two workers at once (an add during processing queues it again
// afterwards); failures are retried with exponential backoff per key; delayed adds for timers.
// Instrumented as client-go's (util/workqueue metrics.go): an add counts when the key was not already
// waiting, its wait is measured from that add to the get, its work from the get to done, and every
// delayed add counts as a retry.

import { backoffDelayMs } from '../../protocol/backoff.js';
import type { QueueInstruments, QueueProbe } from '../standard-metrics.js';

export interface QueueOptions {
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** The clock of the wait and work durations (ms). */
  now?: () => number;
}

export class WorkQueue implements QueueProbe {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: queued again when done. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private closed = false;
  /** Key → when it was added (waiting keys, and keys added again while processed). */
  private readonly addedAt = new Map<string, number>();
  /** Key → when a worker took it. */
  private readonly startedAt = new Map<string, number>();
  private instruments: QueueInstruments | undefined;
  private readonly now: () => number;

  constructor(private readonly options: QueueOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** Reports adds, waits, work and retries to `instruments` from now on. */
  instrument(instruments: QueueInstruments): void {
    this.instruments = instruments;
  }

  /** Keys waiting to be processed. */
  get length(): number {
    return this.queue.length;
  }

  /** Keys waiting, counting those added again while being processed (client-go's depth). */
  depth(): number {
    return this.queue.length + this.dirty.size;
  }

  /** How long each key being processed has been (workqueue_unfinished_work_seconds and longest_running). */
  processingSeconds(): number[] {
    const now = this.now();
    return [...this.startedAt.values()].map((t) => (now - t) / 1000);
  }

  add(key: string): void {
    if (this.closed) return;
    if (this.queued.has(key) || this.dirty.has(key)) return;
    this.instruments?.added();
    this.addedAt.set(key, this.now());
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    this.enqueue(key);
  }

  /** Hands the key to a waiting worker, or queues it. */
  private enqueue(key: string): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  private take(key: string): void {
    this.processing.add(key);
    const now = this.now();
    const added = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (added !== undefined) this.instruments?.started((now - added) / 1000);
    this.startedAt.set(key, now);
  }

  /** Adds the key after `ms`; an earlier pending add for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    this.instruments?.retried();
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /**
   * Retries the key after a delay that doubles with each consecutive failure. No jitter: one worker
   * per key means no two retries of a key to spread out, and the delays stay predictable.
   */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = backoffDelayMs({ initialMs: this.options.backoffInitialMs ?? 200, maxMs: this.options.backoffMaxMs ?? 60_000, jitter: 'none' }, n - 1);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts the backoff afresh. */
  resetBackoff(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.take(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    const started = this.startedAt.get(key);
    this.startedAt.delete(key);
    if (started !== undefined) this.instruments?.finished((this.now() - started) / 1000);
    this.processing.delete(key);
    // Added again while processed: counted then, queued now.
    if (this.dirty.delete(key) && !this.closed) this.enqueue(key);
  }

  shutDown(): void {
    this.closed = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
