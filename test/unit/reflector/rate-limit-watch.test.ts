// Which clients the rate limit is dropping, at most one warning per client per interval.
import { describe, expect, it } from 'vitest';
import { RateLimitWatch } from '../../../reflector/rate-limit-watch.js';

describe('RateLimitWatch', () => {
  it('warns when a client count grows, then not again within the interval, then with what was dropped since', () => {
    const watch = new RateLimitWatch(10_000);
    expect(watch.check([{ id: 1, dropped: 0 }, { id: 2, dropped: 0 }], 0)).toEqual([]);
    expect(watch.check([{ id: 1, dropped: 50 }, { id: 2, dropped: 0 }], 1000)).toEqual([{ id: 1, dropped: 50, total: 50 }]);
    expect(watch.check([{ id: 1, dropped: 90 }], 5000)).toEqual([]);
    expect(watch.check([{ id: 1, dropped: 120 }], 11_000)).toEqual([{ id: 1, dropped: 70, total: 120 }]);
    expect(watch.check([{ id: 1, dropped: 120 }], 30_000)).toEqual([]); // nothing new
  });

  it('forgets clients that left (a new client with the id starts afresh)', () => {
    const watch = new RateLimitWatch(10_000);
    expect(watch.check([{ id: 7, dropped: 5 }], 0)).toHaveLength(1);
    expect(watch.check([], 1000)).toEqual([]);
    expect(watch.check([{ id: 7, dropped: 3 }], 2000)).toEqual([{ id: 7, dropped: 3, total: 3 }]);
  });
});
