// The work queue (dedup, one worker per key, backoff) and Lease leader election against an in-memory
// Lease store with the API server's optimistic concurrency.
/* eslint-disable @typescript-eslint/require-await -- the fakes implement async interfaces synchronously */
import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../operator/controller/queue.js';
import { LeaderElector, type LeaseApi } from '../../../operator/leader.js';

describe('WorkQueue', () => {
  it('processes a key added many times once', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands one key to two workers; an add during processing comes back after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const key = await q.get();
    q.add('a');
    expect(q.length).toBe(0);
    q.done(key!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('wakes a waiting worker', async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
  });

  it('backs off exponentially per key, and forget resets it', () => {
    const q = new WorkQueue({ backoffInitialMs: 100, backoffMaxMs: 1000 });
    expect([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')]).toEqual([100, 200, 400, 800, 1000]);
    expect(q.addRateLimited('b')).toBe(100);
    q.resetBackoff('a');
    expect(q.addRateLimited('a')).toBe(100);
    q.shutDown();
  });

  it('adds after a delay, the earliest pending delay winning', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 10_000);
    q.addAfter('a', 10);
    expect(q.length).toBe(0);
    expect(await q.get()).toBe('a');
    q.shutDown();
  });

  it('releases waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const next = q.get();
    q.shutDown();
    expect(await next).toBeUndefined();
  });
});

/** Leases with resourceVersion checks, as the API server keeps them. */
class LeaseStore implements LeaseApi {
  lease: V1Lease | undefined;
  rv = 0;
  failing = false;
  async read() {
    if (this.failing) throw new Error('apiserver down');
    return this.lease ? structuredClone(this.lease) : undefined;
  }
  async create(_ns: string, lease: V1Lease) {
    if (this.failing) throw new Error('apiserver down');
    if (this.lease) throw Object.assign(new Error('exists'), { code: 409 });
    this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    return this.lease;
  }
  async replace(_ns: string, _name: string, lease: V1Lease) {
    if (this.failing) throw new Error('apiserver down');
    if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
    this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
    return this.lease;
  }
}

const quiet = { info() {}, warn() {} };

function elector(store: LeaseStore, identity: string, clock: { t: number }) {
  return new LeaderElector(store, {
    namespace: 'ops',
    name: 'rmesh',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    log: quiet,
    now: () => clock.t,
  });
}

describe('LeaderElector', () => {
  it('one candidate holds the Lease; another takes it only once it expires', async () => {
    const store = new LeaseStore();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const a = elector(store, 'a', clock);
    const b = elector(store, 'b', clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.t += 10_000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewal
    clock.t += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // 14 s since the renewal: still held
    clock.t += 2_000;
    expect(await b.tryAcquireOrRenew()).toBe(true); // expired: taken over
    expect(store.lease!.spec!.holderIdentity).toBe('b');
    expect(store.lease!.spec!.leaseTransitions).toBe(1);
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('a released Lease is free at once', async () => {
    const store = new LeaseStore();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const a = elector(store, 'a', clock);
    await a.acquire(() => {});
    await a.release();
    expect(store.lease!.spec!.holderIdentity).toBe('');
    expect(await elector(store, 'b', clock).tryAcquireOrRenew()).toBe(true);
  });

  it('does not take the Lease when the API server is down', async () => {
    const store = new LeaseStore();
    store.failing = true;
    expect(await elector(store, 'a', { t: 0 }).tryAcquireOrRenew()).toBe(false);
  });

  it('loses a race on the resource version instead of overwriting', async () => {
    const store = new LeaseStore();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    await elector(store, 'a', clock).tryAcquireOrRenew();
    clock.t += 20_000; // expired
    const stale = structuredClone(store.lease!);
    await elector(store, 'b', clock).tryAcquireOrRenew();
    // c read the Lease before b's write, so its replace conflicts.
    const c = new LeaderElector(
      { ...store, read: async () => stale, create: store.create.bind(store), replace: store.replace.bind(store) },
      { namespace: 'ops', name: 'rmesh', identity: 'c', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, log: quiet, now: () => clock.t },
    );
    expect(await c.tryAcquireOrRenew()).toBe(false);
    expect(store.lease!.spec!.holderIdentity).toBe('b');
  });
});
