// `rmesh demo`: the laptop demo. A local mesh of reflector processes and in-process clients on loopback
// addresses, a live view per reflector (or a final JSON report), one reflector added midway.
import { Command, InvalidArgumentError, Option } from 'commander';
import { runDemo } from '../tools/demo/demo.js';
import { formatSummary, formatView } from '../tools/demo/view.js';
import { GENERATOR_HEADER_SIZE } from '../tools/generator/rtp-packet.js';
import { UsageError } from './errors.js';
import { parseBitrateBps, parseDurationMs, parsePort, parsePositiveInt } from './option-parsers.js';

interface DemoFlags {
  reflectors: number;
  clients: number;
  bitrate: number;
  packetSize: number;
  duration: number;
  addAt: { fraction: number } | { ms: number };
  json?: boolean;
  baseAddress: string;
  dataPort: number;
  controlPort: number;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'a local mesh on loopback addresses: m reflector processes and n clients at a laptop bitrate, a live view per reflector ' +
        '(clients, in/out Mbit/s, the model\'s predicted out, loss, latency p99); midway one more reflector joins and the clients ' +
        'are redistributed. Ctrl-C or --duration stops it and leaves no process behind.',
    )
    .addOption(new Option('--reflectors <m>', 'reflectors at the start (1-50)').argParser(range(1, 50)).default(3))
    .addOption(new Option('--clients <n>', 'clients (sendrecv), each on its own loopback address').argParser(range(1, 150)).default(6))
    .addOption(new Option('--bitrate <rate>', 'each client\'s stream (e.g. 500kbps, 1Mbps)').argParser(parseBitrateBps).default(1_000_000, '1Mbps'))
    .addOption(new Option('--packet-size <bytes>', `UDP payload bytes per datagram (${GENERATOR_HEADER_SIZE}-1472)`).argParser(range(GENERATOR_HEADER_SIZE, 1472)).default(1200))
    .addOption(new Option('--duration <time>', 'how long the clients send (e.g. 30s, 2m)').argParser(parseDurationMs).default(30_000, '30s'))
    .addOption(new Option('--add-at <when>', 'when one more reflector joins: a share of --duration (50%) or a time (10s)').argParser(parseAddAt).default({ fraction: 0.5 }, '50%'))
    .addOption(new Option('--json', 'print one final JSON report instead of the live view (also when stdout is not a terminal)'))
    .addOption(new Option('--base-address <ip>', 'loopback address of the first reflector; the others and the clients follow (127.x.y.z)').argParser(parseLoopback).default('127.0.7.1'))
    .addOption(new Option('--data-port <port>', 'UDP data port of the first reflector; reflector i uses port + i').argParser(parsePort).default(46000))
    .addOption(new Option('--control-port <port>', 'HTTP control port of the first reflector; reflector i uses port + i').argParser(parsePort).default(46100))
    .action(async (flags: DemoFlags) => {
      await demo(flags);
    });
}

async function demo(flags: DemoFlags): Promise<void> {
  const addAtMs = 'ms' in flags.addAt ? flags.addAt.ms : Math.round(flags.addAt.fraction * flags.duration);
  if (addAtMs >= flags.duration) throw new UsageError(`--add-at ${addAtMs} ms is not within --duration ${flags.duration} ms: the added reflector would never join.`);
  const last = Number(flags.baseAddress.split('.')[3]) + flags.reflectors + flags.clients;
  if (last > 254) throw new UsageError(`--base-address ${flags.baseAddress} leaves no room for ${flags.reflectors + 1} reflectors and ${flags.clients} clients in its /24; choose a lower one.`);
  if (flags.dataPort + flags.reflectors > 65535 || flags.controlPort + flags.reflectors > 65535) throw new UsageError('--data-port/--control-port + the reflector count is past 65535.');
  const live = !flags.json && process.stdout.isTTY === true;
  const abort = new AbortController();
  let signals = 0;
  const stop = (): void => {
    signals++;
    abort.abort();
    if (signals > 1) process.stderr.write('rmesh demo: killing the reflectors\n');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const title = `rmesh demo: ${flags.clients} clients at ${(flags.bitrate / 1e6).toFixed(2)} Mbit/s (${flags.packetSize} B), a reflector joins at ${(addAtMs / 1000).toFixed(1)}s`;
  try {
    const report = await runDemo({
      reflectors: flags.reflectors,
      clients: flags.clients,
      bitrateBps: flags.bitrate,
      packetSize: flags.packetSize,
      durationMs: flags.duration,
      addAtMs,
      baseAddress: flags.baseAddress,
      dataPort: flags.dataPort,
      controlPort: flags.controlPort,
      signal: abort.signal,
      onStage: (text) => process.stderr.write(`rmesh demo: ${text}\n`),
      ...(live ? { onSnapshot: (s) => process.stdout.write(`\x1b[H\x1b[2J${formatView(s, title)}\n`) } : {}),
    });
    if (live) process.stdout.write(`\n${formatSummary(report)}`);
    else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } catch (err) {
    if (abort.signal.aborted) {
      process.stderr.write(`rmesh demo: stopped (${(err as Error).message.split('\n')[0]})\n`);
      process.exitCode = 130;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function range(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = parsePositiveInt(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is outside ${min}-${max}.`);
    return n;
  };
}

function parseAddAt(value: string): { fraction: number } | { ms: number } {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (pct) {
    const f = Number(pct[1]) / 100;
    if (f <= 0 || f >= 1) throw new InvalidArgumentError(`"${value}" must be between 0% and 100% (exclusive).`);
    return { fraction: f };
  }
  return { ms: parseDurationMs(value) };
}

function parseLoopback(value: string): string {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(value.trim());
  if (!m || [m[1], m[2], m[3]].some((p) => Number(p) > 255) || Number(m[3]) < 1) {
    throw new InvalidArgumentError(`"${value}" is not a loopback address 127.x.y.z (z >= 1).`);
  }
  return value.trim();
}
