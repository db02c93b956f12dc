// Parsers for option values shared by the subcommands (ports, durations, bitrates, host:port). The
// parsing itself lives in protocol/setting-values.ts (one copy, also used by the reflector's settings
// table); here each is wrapped so that a bad value throws commander's InvalidArgumentError, which
// commander turns into a clear message naming the option and an exit with a usage error.
import { InvalidArgumentError } from 'commander';
import * as values from '../protocol/setting-values.js';

export type { HostPort } from '../protocol/setting-values.js';

/** `parse` as commander wants it: a SettingValueError becomes an InvalidArgumentError with the same message. */
export function commanderParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value: string) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof values.SettingValueError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

export const parsePort = commanderParser(values.parsePort);
export const parseNonNegativeInt = commanderParser(values.parseNonNegativeInt);
export const parsePositiveInt = commanderParser(values.parsePositiveInt);
export const parseFraction = commanderParser(values.parseFraction);
export const parsePositiveNumber = commanderParser(values.parsePositiveNumber);
/** "1500ms", "5s", "2m", "1h", or a bare number of seconds; returns milliseconds. */
export const parseDurationMs = commanderParser(values.parseDurationMs);
/** "2Mbps", "500kbps", "1.5Gbps" or a bare number of bit/s; returns bit/s. */
export const parseBitrateBps = commanderParser(values.parseBitrateBps);
/** "HOST:PORT" (IPv4 or a name) or "[IPv6]:PORT". */
export const parseHostPort = commanderParser(values.parseHostPort);
/** A client token's lifetime ("30m", "12h", "7d", bare seconds), at most 366 days; returns seconds. */
export const parseTokenLifetimeSeconds = commanderParser(values.parseTokenLifetimeSeconds);
