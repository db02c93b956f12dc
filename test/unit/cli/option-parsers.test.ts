import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import {
  parseBitrateBps,
  parseDurationMs,
  parseFraction,
  parseHostPort,
  parsePort,
} from '../../../cli/option-parsers.js';

describe('option parsers', () => {
  it('parses ports and rejects out-of-range ones', () => {
    expect(parsePort('5004')).toBe(5004);
    for (const bad of ['0', '65536', '-1', '12a', '']) expect(() => parsePort(bad)).toThrow(InvalidArgumentError);
  });

  it('parses durations with units, bare numbers as seconds', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('5s')).toBe(5000);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('3')).toBe(3000);
    for (const bad of ['0s', 'soon', '5 minutes', '-1s']) expect(() => parseDurationMs(bad)).toThrow(InvalidArgumentError);
  });

  it('parses bitrates in bit/s', () => {
    expect(parseBitrateBps('2Mbps')).toBe(2e6);
    expect(parseBitrateBps('500kbps')).toBe(5e5);
    expect(parseBitrateBps('64000')).toBe(64000);
    for (const bad of ['0Mbps', 'fast', '2MB']) expect(() => parseBitrateBps(bad)).toThrow(InvalidArgumentError);
  });

  it('parses fractions in [0, 1)', () => {
    expect(parseFraction('0.2')).toBe(0.2);
    for (const bad of ['1', '-0.1', 'x', '']) expect(() => parseFraction(bad)).toThrow(InvalidArgumentError);
  });

  it('parses HOST:PORT including bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.2:7400')).toEqual({ host: '127.0.0.2', port: 7400 });
    expect(parseHostPort('[::1]:7400')).toEqual({ host: '::1', port: 7400 });
    for (const bad of ['127.0.0.1', ':7400', 'a:b', '1.2.3.4:70000']) expect(() => parseHostPort(bad)).toThrow(InvalidArgumentError);
  });
});
