import { describe, expect, it } from 'vitest';
import { PacingSchedule } from '../../../tools/generator/pacing.js';

describe('PacingSchedule', () => {
  it('releases datagrams at the bitrate, in bursts that catch up with coarse timers', () => {
    const s = new PacingSchedule({ bitrateBps: 2_000_000, packetSize: 1250 }); // 200 datagrams/s
    expect(s.packetsPerSecond).toBe(200);
    let sent = 0;
    for (let t = 0; t <= 10_000; t += 7) sent += s.due(t); // a 7 ms timer over 10 s
    expect(sent).toBe(2000); // floor(9996 ms x 0.2/ms) = 1999, + the first at t = 0
    expect(s.skipped).toBe(0);
  });

  it('sends the first datagram at once and nothing twice', () => {
    const s = new PacingSchedule({ bitrateBps: 8000, packetSize: 100 }); // 10 datagrams/s
    expect(s.due(0)).toBe(1);
    expect(s.due(50)).toBe(0);
    expect(s.due(100)).toBe(1);
    expect(s.due(100)).toBe(0);
  });

  it('does not make up a long stall in one burst, and counts what it skipped', () => {
    const s = new PacingSchedule({ bitrateBps: 8_000_000, packetSize: 1000, maxCatchUpMs: 50 }); // 1000/s
    expect(s.due(0)).toBe(1);
    expect(s.due(1000)).toBe(50); // a 1 s stall: 1000 due, 50 ms worth sent
    expect(s.skipped).toBe(950);
    expect(s.due(1010)).toBe(10); // then back on schedule
  });

  it('ticks between 1 and 10 ms', () => {
    expect(new PacingSchedule({ bitrateBps: 1e9, packetSize: 1200 }).tickMs).toBe(1);
    expect(new PacingSchedule({ bitrateBps: 64_000, packetSize: 160 }).tickMs).toBe(10);
  });
});

describe('PacingSchedule bursts', () => {
  it('never releases more than maxBurst datagrams at once, however high the rate', () => {
    const s = new PacingSchedule({ bitrateBps: 10e9, packetSize: 1000 }); // 1.25 M datagrams/s
    expect(s.maxBurst).toBe(512);
    expect(s.due(0)).toBe(1);
    expect(s.due(10)).toBe(512);
  });
});
