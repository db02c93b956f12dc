// Leader election against an in-memory Lease store with the API server's optimistic concurrency: never
// two leaders, whatever the candidates' clocks say and however long a call hangs.
/* eslint-disable @typescript-eslint/require-await -- the fakes implement async interfaces synchronously */
import type { V1Lease } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LeaderElector, type LeaderElectionOptions, type LeaseApi } from '../../../operator/leader.js';

/** Leases with resourceVersion checks, as the API server keeps them; calls of a `hanging` identity never answer. */
class LeaseStore {
  lease: V1Lease | undefined;
  rv = 0;
  failing = false;
  hanging = new Set<string>();
  /** Calls made, by identity. */
  calls = new Map<string, number>();
  /** Signals of calls that hung, to see they were aborted. */
  hungSignals: AbortSignal[] = [];

  as(identity: string): LeaseApi {
    const gate = async (signal: AbortSignal) => {
      this.calls.set(identity, (this.calls.get(identity) ?? 0) + 1);
      if (this.failing) throw new Error('apiserver down');
      if (this.hanging.has(identity)) {
        this.hungSignals.push(signal);
        await new Promise(() => {}); // ignores its signal too: the elector must not wait on it
      }
    };
    return {
      read: async (_ns, _name, signal) => {
        await gate(signal);
        return this.lease ? structuredClone(this.lease) : undefined;
      },
      create: async (_ns, lease, signal) => {
        await gate(signal);
        if (this.lease) throw Object.assign(new Error('exists'), { code: 409 });
        this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      },
      replace: async (_ns, _name, lease, signal) => {
        await gate(signal);
        if (lease.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) throw Object.assign(new Error('conflict'), { code: 409 });
        this.lease = { ...lease, metadata: { ...lease.metadata, resourceVersion: String(++this.rv) } };
        return structuredClone(this.lease);
      },
    };
  }
}

const quiet = { info() {}, warn() {} };
const TIMES = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

function elector(store: LeaseStore, identity: string, now: () => number, over: Partial<LeaderElectionOptions> = {}): LeaderElector {
  return new LeaderElector(store.as(identity), { namespace: 'ops', name: 'rmesh', identity, ...TIMES, log: quiet, now, random: () => 0.5, ...over });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LeaderElector, one attempt at a time', () => {
  it('another candidate takes the Lease only after a full lease duration without a change it saw', async () => {
    const store = new LeaseStore();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const a = elector(store, 'a', () => clock.t);
    const b = elector(store, 'b', () => clock.t);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false); // b sees the record now
    clock.t += 10_000;
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewal: a change
    clock.t += 4_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // b sees the change now, 14 s after its first look
    clock.t += 14_000;
    expect(await b.tryAcquireOrRenew()).toBe(false); // 14 s since b saw the change: still held
    clock.t += 2_000;
    expect(await b.tryAcquireOrRenew()).toBe(true); // 16 s: expired, taken over
    expect(store.lease!.spec!.holderIdentity).toBe('b');
    expect(store.lease!.spec!.leaseTransitions).toBe(1);
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it.each([
    ['an hour ahead', 3_600_000],
    ['an hour behind', -3_600_000],
  ])('with the candidate\'s clock %s of the leader\'s: no take-over while the leader renews, a take-over one lease duration after it stops', async (_what, skewMs) => {
    const store = new LeaseStore();
    const base = { t: Date.parse('2026-01-01T00:00:00Z') };
    const a = elector(store, 'a', () => base.t);
    const b = elector(store, 'b', () => base.t + skewMs);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    for (let s = 0; s < 60; s += 2) {
      base.t += 2_000;
      expect(await a.tryAcquireOrRenew()).toBe(true);
      expect(await b.tryAcquireOrRenew()).toBe(false);
    }
    // a stops renewing (crashed). b takes over after 15 s of its own clock, not before, not an hour off.
    const stoppedAt = base.t;
    let tookOverAfter: number | undefined;
    for (let s = 0; s <= 30 && tookOverAfter === undefined; s++) {
      if (await b.tryAcquireOrRenew()) tookOverAfter = base.t - stoppedAt;
      base.t += 1_000;
    }
    expect(tookOverAfter).toBe(15_000);
  });

  it('a released Lease is free at once', async () => {
    const store = new LeaseStore();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    const b = elector(store, 'b', () => clock.t);
    const a = elector(store, 'a', () => clock.t);
    await a.acquire(() => {});
    expect(await b.tryAcquireOrRenew()).toBe(false);
    await a.release();
    expect(store.lease!.spec!.holderIdentity).toBe('');
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });

  it('does not take the Lease when the API server is down', async () => {
    const store = new LeaseStore();
    store.failing = true;
    expect(await elector(store, 'a', () => 0).tryAcquireOrRenew()).toBe(false);
  });

  it('loses a race on the resource version instead of overwriting', async () => {
    const store = new LeaseStore();
    const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
    await elector(store, 'a', () => clock.t).tryAcquireOrRenew();
    const c = elector(store, 'c', () => clock.t);
    expect(await c.tryAcquireOrRenew()).toBe(false); // c sees a's record
    clock.t += 20_000; // expired for c
    // c reads the Lease, then b takes it before c's replace lands.
    const api = store.as('c');
    const stale = (await api.read('ops', 'rmesh', new AbortController().signal))!;
    (c as unknown as { api: LeaseApi }).api = { ...api, read: async () => structuredClone(stale) };
    store.lease = { ...store.lease!, spec: { ...store.lease!.spec, holderIdentity: 'b' }, metadata: { ...store.lease!.metadata, resourceVersion: String(++store.rv) } };
    expect(await c.tryAcquireOrRenew()).toBe(false);
    expect(store.lease?.spec?.holderIdentity).toBe('b');
  });

  it('refuses a renew deadline that is not shorter than the lease duration', () => {
    expect(() => elector(new LeaseStore(), 'a', () => 0, { renewDeadlineMs: 15_000 })).toThrow(/renew deadline .* must be shorter than the lease duration/);
    expect(() => elector(new LeaseStore(), 'a', () => 0, { retryPeriodMs: 10_000 })).toThrow(/retry period .* must be shorter than the renew deadline/);
  });
});

describe('LeaderElector, running', () => {
  it('a leader whose renew call hangs steps down at the renew deadline, before anyone else leads', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(Date.parse('2026-01-01T00:00:00Z'));
    const store = new LeaseStore();
    const a = elector(store, 'a', Date.now);
    const b = elector(store, 'b', Date.now);
    const lost = vi.fn();
    await a.acquire(lost);
    expect(a.isLeader()).toBe(true);
    let bLeads = false;
    void b.acquire(() => {}).then(() => (bLeads = true));
    await vi.advanceTimersByTimeAsync(6_000); // a renews a few times
    expect(a.isLeader()).toBe(true);
    expect(bLeads).toBe(false);

    const hungAt = Date.now();
    store.hanging.add('a');
    let aSteppedDownAfter: number | undefined;
    let bLeadsAfter: number | undefined;
    for (let ms = 0; ms < 40_000; ms += 100) {
      await vi.advanceTimersByTimeAsync(100);
      // Sampled throughout: never two leaders.
      expect(a.isLeader() && bLeads).toBe(false);
      if (aSteppedDownAfter === undefined && !a.isLeader()) aSteppedDownAfter = Date.now() - hungAt;
      if (bLeadsAfter === undefined && bLeads) bLeadsAfter = Date.now() - hungAt;
    }
    expect(lost).toHaveBeenCalledTimes(1);
    // The last renewal was at most one retry period before the hang: the deadline follows it.
    expect(aSteppedDownAfter).toBeLessThanOrEqual(TIMES.renewDeadlineMs);
    expect(bLeadsAfter).toBeGreaterThanOrEqual(TIMES.leaseDurationMs - TIMES.retryPeriodMs);
    expect(bLeadsAfter! - aSteppedDownAfter!).toBeGreaterThanOrEqual(TIMES.leaseDurationMs - TIMES.renewDeadlineMs - 1000);
    expect(store.hungSignals.length).toBeGreaterThan(0);
    expect(store.hungSignals.every((s) => s.aborted)).toBe(true);
    expect(a.leaseProblem()).toBeUndefined(); // no longer leading: nothing stale held
    await b.release();
  });

  it('/healthz material: a leader that stopped renewing reports the Lease stale', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = new LeaseStore();
    const clock = { t: Date.now() };
    // Its own clock frozen past the deadline while timers have not run (a blocked event loop).
    const a = elector(store, 'a', () => clock.t);
    await a.acquire(() => {});
    expect(a.leaseProblem()).toBeUndefined();
    clock.t += TIMES.renewDeadlineMs + 1;
    expect(a.isLeader()).toBe(false);
    expect(a.leaseProblem()).toMatch(/last renewed 10 s ago/);
    await a.release();
  });

  it('backs off while the API server fails, and retries every retry period while another holds the Lease', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = new LeaseStore();
    store.failing = true;
    const a = elector(store, 'a', Date.now);
    void a.acquire(() => {}).catch(() => {});
    await vi.advanceTimersByTimeAsync(60_000);
    // random 0.5 (equal jitter: 3/4 of the delay): 1.5, 3, 6, 11.25, 11.25, ... s → about 8 calls in 60 s, not 30.
    expect(store.calls.get('a')).toBeLessThanOrEqual(9);
    expect(store.calls.get('a')).toBeGreaterThanOrEqual(5);
    await a.release();

    const held = new LeaseStore();
    const holder = elector(held, 'h', Date.now);
    await holder.acquire(() => {});
    const c = elector(held, 'c', Date.now);
    void c.acquire(() => {}).catch(() => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(held.calls.get('c')).toBe(5); // every 2.2 s (jitter factor 1.2 at random 0.5)
    await c.release();
    await holder.release();
  });
});
