// Parsers for option values shared by the subcommands (ports, durations, bitrates, host:port).
// Each throws commander's InvalidArgumentError, which commander turns into a clear message naming
// the option and an exit with a usage error.
import { InvalidArgumentError } from 'commander';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../protocol/security/client-token.js';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port number (1-65535).`);
  }
  return port;
}

export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`"${quote(value)}" is not a whole number >= 0.`);
  const n = Number(value);
  // Beyond 2^53 a number is no longer exact (and a long enough string is Infinity).
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${quote(value)}" is too large (at most ${Number.MAX_SAFE_INTEGER}).`);
  return n;
}

/** The input as an error message quotes it: long inputs shortened, so the message stays one readable line. */
function quote(value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, ' ');
  return oneLine.length > 40 ? `${oneLine.slice(0, 37)}...` : oneLine;
}

export function parsePositiveInt(value: string): number {
  const n = parseNonNegativeInt(value);
  if (n < 1) throw new InvalidArgumentError(`"${value}" must be at least 1.`);
  return n;
}

export function parseFraction(value: string): number {
  const f = Number(value);
  if (value.trim() === '' || !Number.isFinite(f) || f < 0 || f >= 1) {
    throw new InvalidArgumentError(`"${value}" is not a fraction in [0, 1).`);
  }
  return f;
}

export function parsePositiveNumber(value: string): number {
  const f = Number(value);
  if (value.trim() === '' || !Number.isFinite(f) || f <= 0) {
    throw new InvalidArgumentError(`"${value}" is not a number > 0.`);
  }
  return f;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** The longest delay setTimeout/setInterval honour. */
const MAX_DURATION_MS = 2 ** 31 - 1;

/** "1500ms", "5s", "2m", "1h", or a bare number of seconds; returns milliseconds. */
export function parseDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a duration (examples: 500ms, 5s, 2m).`);
  const ms = Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 's']!);
  // Rounded first: "0.4ms" is 0 ms. Node runs a timer longer than 2^31-1 ms after 1 ms instead, so a
  // keep-alive interval of "1000h" would fire continuously: refuse it.
  if (ms <= 0) throw new InvalidArgumentError(`"${quote(value)}" must be at least 1 ms.`);
  if (ms > MAX_DURATION_MS) throw new InvalidArgumentError(`"${quote(value)}" is longer than the longest timer (${MAX_DURATION_MS} ms, about 24 days).`);
  return ms;
}

const BITRATE_UNITS: Record<string, number> = { bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9 };

/** "2Mbps", "500kbps", "1.5Gbps" or a bare number of bit/s; returns bit/s. */
export function parseBitrateBps(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?bps)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not a bitrate (examples: 500kbps, 2Mbps).`);
  const bps = Number(match[1]) * BITRATE_UNITS[(match[2] ?? 'bps').toLowerCase()]!;
  if (bps <= 0) throw new InvalidArgumentError(`"${quote(value)}" must be more than zero.`);
  if (!Number.isFinite(bps)) throw new InvalidArgumentError(`"${quote(value)}" is too large.`);
  return bps;
}

export interface HostPort {
  host: string;
  port: number;
}

/** "HOST:PORT" (IPv4 or a name) or "[IPv6]:PORT". */
export function parseHostPort(value: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${value}" is not HOST:PORT.`);
  return { host: (match[1] ?? match[2])!, port: parsePort(match[3]!) };
}

const LIFETIME_UNITS_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A client token's lifetime: "90s", "30m", "12h", "7d" or bare seconds, at most 366 days; returns
 * seconds. Not parseDurationMs, which stops at a timer's 24 days.
 */
export function parseTokenLifetimeSeconds(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`"${quote(value)}" is not a duration (examples: 30m, 12h, 7d).`);
  const seconds = Math.round(Number(match[1]) * LIFETIME_UNITS_SECONDS[match[2] ?? 's']!);
  if (seconds < 1) throw new InvalidArgumentError(`"${value}" is shorter than one second.`);
  if (seconds > MAX_TOKEN_LIFETIME_SECONDS) throw new InvalidArgumentError(`"${quote(value)}" is longer than 366 days; mint shorter-lived tokens and renew them.`);
  return seconds;
}
