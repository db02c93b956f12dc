// The work queue: dedup, one worker per key, backoff (leader election: leader.test.ts).
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../operator/controller/queue.js';

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
