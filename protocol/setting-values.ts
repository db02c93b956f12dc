// Parsers of setting values: the text of a flag or an RMESH_* variable to its value. Pure (no commander,
// no process): each throws SettingValueError with a message that quotes the input and says what is
// expected. The reflector's settings table (settings.ts) uses them, and cli/option-parsers.ts hands the
// same functions to commander (turning SettingValueError into commander's InvalidArgumentError), so the
// CLI, the config and the operator's pod environment accept and refuse exactly the same text.
import { isIP } from 'node:net';
import { REFLECTOR_ID_PATTERN } from './ids.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from './security/client-token.js';

/** A setting's text that is not a value of it; the message names what was wrong. */
export class SettingValueError extends Error {
  override name = 'SettingValueError';
}

/** The input as an error message quotes it: long inputs shortened, so the message stays one readable line. */
function quote(value: string): string {
  const oneLine = value.replace(/[\r\n]+/g, ' ');
  return oneLine.length > 40 ? `${oneLine.slice(0, 37)}...` : oneLine;
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new SettingValueError(`"${value}" is not a port number (1-65535).`);
  }
  return port;
}

export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new SettingValueError(`"${quote(value)}" is not a whole number >= 0.`);
  const n = Number(value);
  // Beyond 2^53 a number is no longer exact (and a long enough string is Infinity).
  if (!Number.isSafeInteger(n)) throw new SettingValueError(`"${quote(value)}" is too large (at most ${Number.MAX_SAFE_INTEGER}).`);
  return n;
}

export function parsePositiveInt(value: string): number {
  const n = parseNonNegativeInt(value);
  if (n < 1) throw new SettingValueError(`"${value}" must be at least 1.`);
  return n;
}

export function parseFraction(value: string): number {
  const f = Number(value);
  if (value.trim() === '' || !Number.isFinite(f) || f < 0 || f >= 1) {
    throw new SettingValueError(`"${value}" is not a fraction in [0, 1).`);
  }
  return f;
}

export function parsePositiveNumber(value: string): number {
  const f = Number(value);
  if (value.trim() === '' || !Number.isFinite(f) || f <= 0) {
    throw new SettingValueError(`"${value}" is not a number > 0.`);
  }
  return f;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** The longest delay setTimeout/setInterval honour. */
const MAX_DURATION_MS = 2 ** 31 - 1;

/** "1500ms", "5s", "2m", "1h", or a bare number of seconds; returns milliseconds. */
export function parseDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new SettingValueError(`"${value}" is not a duration (examples: 500ms, 5s, 2m).`);
  const ms = Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 's']!);
  // Rounded first: "0.4ms" is 0 ms. Node runs a timer longer than 2^31-1 ms after 1 ms instead, so a
  // keep-alive interval of "1000h" would fire continuously: refuse it.
  if (ms <= 0) throw new SettingValueError(`"${quote(value)}" must be at least 1 ms.`);
  if (ms > MAX_DURATION_MS) throw new SettingValueError(`"${quote(value)}" is longer than the longest timer (${MAX_DURATION_MS} ms, about 24 days).`);
  return ms;
}

/** A duration, or 0 / "off" for no bound. */
export function parseDurationOrOff(value: string): number {
  const v = value.trim().toLowerCase();
  return v === '0' || v === 'off' ? 0 : parseDurationMs(value);
}

const BITRATE_UNITS: Record<string, number> = { bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9 };

/** "2Mbps", "500kbps", "1.5Gbps" or a bare number of bit/s; returns bit/s. */
export function parseBitrateBps(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?bps)?$/i.exec(value.trim());
  if (!match) throw new SettingValueError(`"${value}" is not a bitrate (examples: 500kbps, 2Mbps).`);
  const bps = Number(match[1]) * BITRATE_UNITS[(match[2] ?? 'bps').toLowerCase()]!;
  if (bps <= 0) throw new SettingValueError(`"${quote(value)}" must be more than zero.`);
  if (!Number.isFinite(bps)) throw new SettingValueError(`"${quote(value)}" is too large.`);
  return bps;
}

/** A bitrate ("8Mbps", "500kbps", bit/s bare), or 0 / "off" for no limit. */
export function parseBitrateLimit(value: string): number {
  const v = value.trim().toLowerCase();
  return v === '0' || v === 'off' ? 0 : parseBitrateBps(value);
}

export interface HostPort {
  host: string;
  port: number;
}

/** "HOST:PORT" (IPv4 or a name) or "[IPv6]:PORT". */
export function parseHostPort(value: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(value.trim());
  if (!match) throw new SettingValueError(`"${value}" is not HOST:PORT.`);
  return { host: (match[1] ?? match[2])!, port: parsePort(match[3]!) };
}

const LIFETIME_UNITS_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A client token's lifetime: "90s", "30m", "12h", "7d" or bare seconds, at most 366 days; returns
 * seconds. Not parseDurationMs, which stops at a timer's 24 days.
 */
export function parseTokenLifetimeSeconds(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new SettingValueError(`"${quote(value)}" is not a duration (examples: 30m, 12h, 7d).`);
  const seconds = Math.round(Number(match[1]) * LIFETIME_UNITS_SECONDS[match[2] ?? 's']!);
  if (seconds < 1) throw new SettingValueError(`"${value}" is shorter than one second.`);
  if (seconds > MAX_TOKEN_LIFETIME_SECONDS) throw new SettingValueError(`"${quote(value)}" is longer than 366 days; mint shorter-lived tokens and renew them.`);
  return seconds;
}

export function parseBoolean(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  throw new SettingValueError(`"${value}" is not true or false.`);
}

export function parseIp(value: string): string {
  if (isIP(value) === 0) throw new SettingValueError(`"${value}" is not an IP address.`);
  return value;
}

/** A client payload size: room is kept for the tagged peer copy, 40 bytes of header, epoch and tag (docs/protocol.md §2.4). */
export function parseDatagramSize(value: string): number {
  const n = parseNonNegativeInt(value);
  if (n < 64 || n > 65507 - 40) throw new SettingValueError(`"${value}" must be between 64 and 65467 bytes.`);
  return n;
}

export function parseMeshName(value: string): string {
  if (value.length < 1 || value.length > 253) throw new SettingValueError('a mesh name is 1-253 characters.');
  return value;
}

export function parseReflectorId(value: string): string {
  if (!REFLECTOR_ID_PATTERN.test(value)) throw new SettingValueError(`"${value}" is not a reflector id (1-63 of A-Z a-z 0-9 . _ : -).`);
  return value;
}
