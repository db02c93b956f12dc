import { describe, expect, it } from 'vitest';
import { JitterEstimator } from '../../../tools/generator/jitter.js';

describe('RFC 3550 interarrival jitter', () => {
  it('is zero for a stream that arrives exactly as it was sent, whatever the clock offset', () => {
    const j = new JitterEstimator(8000);
    for (let i = 0; i < 100; i++) j.update(12345.678 + i * 20, 0xfffff000 + i * 160); // wraps the timestamp
    expect(j.units).toBeCloseTo(0, 6);
  });

  it('follows the §A.8 recurrence J += (|D| - J) / 16', () => {
    const j = new JitterEstimator(1000); // 1 timestamp unit = 1 ms, so units equal ms
    // Sent every 10 ms; arrivals alternate 0 and 4 ms late: |D| = 4 from the second datagram on.
    let expected = 0;
    for (let i = 0; i < 50; i++) {
      j.update(i * 10 + (i % 2) * 4, i * 10);
      if (i > 0) expected += (4 - expected) / 16;
    }
    expect(j.units).toBeCloseTo(expected, 9);
    expect(j.ms).toBeCloseTo(expected, 9);
  });

  it('converges to the mean absolute transit difference, reported in ms at 90 kHz', () => {
    const j = new JitterEstimator(90_000);
    for (let i = 0; i < 2000; i++) j.update(i * 5 + (i % 2) * 2, i * 450); // 5 ms spacing, ±2 ms
    expect(j.ms).toBeCloseTo(2, 3);
  });
});
