// `rmesh client`: the traffic generator and analyzer. Joins a mesh, sends a paced RTP stream, analyzes
// what it receives, and prints a report (JSON or text) when done; on a terminal, a live progress line.
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { runGenerator } from '../tools/generator/generator.js';
import { describeJoinError } from '../tools/join-error.js';
import { GENERATOR_HEADER_SIZE } from '../tools/generator/rtp-packet.js';
import { formatJsonReport, formatProgress, formatTextReport, type ClientReport } from '../tools/generator/report.js';
import { clientToken, tokenFileOption, tokenOption, type TokenFlags } from './token-options.js';
import { parseBitrateBps, parseDurationMs, parseHostPort, parseNonNegativeInt, parsePositiveInt } from './option-parsers.js';

/** The largest UDP payload of IPv4. */
const MAX_UDP_PAYLOAD = 65_507;

interface ClientFlags extends TokenFlags {
  join: string[];
  role: 'sendrecv' | 'recvonly' | 'sendonly';
  name?: string;
  bitrate: number;
  packetSize: number;
  duration: number;
  linger: number;
  report: 'json' | 'text' | 'none';
  bind?: string;
  dropEvery: number;
  failoverTimeout?: number;
  progress: boolean;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('client')
    .description(
      'traffic generator and analyzer: join a mesh, send an RTP stream at a bitrate, and report per source and in total ' +
        'the bitrate, loss, duplicates, reordering, one-way latency percentiles, RFC 3550 jitter, and the gap and loss of ' +
        'each migration and failover',
    )
    .addOption(
      new Option('--join <host:port,...>', 'reflector(s) to join through (control port), comma-separated; tried in order')
        .env('RMESH_JOIN')
        .argParser(parseJoinList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--role <role>', 'sendrecv, recvonly or sendonly').choices(['sendrecv', 'recvonly', 'sendonly']).default('sendrecv').env('RMESH_CLIENT_ROLE'),
    )
    .addOption(new Option('--name <name>', 'a name for this client, shown in the reflector status').env('RMESH_CLIENT_NAME'))
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .addOption(
      new Option('--bitrate <rate>', 'the stream to send, UDP payload bits per second (e.g. 500kbps, 2Mbps)')
        .argParser(parseBitrateBps)
        .default(2_000_000, '2Mbps')
        .env('RMESH_CLIENT_BITRATE'),
    )
    .addOption(
      new Option('--packet-size <bytes>', `UDP payload bytes per datagram, RTP header included (${GENERATOR_HEADER_SIZE}-${MAX_UDP_PAYLOAD}; a reflector forwards at most its --max-datagram-size, 1472 by default)`)
        .argParser(parsePacketSize)
        .default(1200)
        .env('RMESH_CLIENT_PACKET_SIZE'),
    )
    .addOption(new Option('--duration <time>', 'how long to send and receive (e.g. 5s, 2m)').argParser(parseDurationMs).default(10_000, '10s').env('RMESH_CLIENT_DURATION'))
    .addOption(new Option('--linger <time>', 'keep receiving this long after sending stops, for datagrams in flight').argParser(parseDurationMs).default(300, '300ms'))
    .addOption(new Option('--report <format>', 'the report printed on stdout at the end').choices(['json', 'text', 'none']).default('text').env('RMESH_CLIENT_REPORT'))
    .addOption(new Option('--bind <address>', 'local address of the data socket(s) (default: any)'))
    .addOption(
      new Option('--drop-every <n>', 'leave out every Nth datagram while keeping its sequence number: a known loss, to check the measurement end to end (0 = off)')
        .argParser(parseNonNegativeInt)
        .default(0),
    )
    .addOption(new Option('--failover-timeout <time>', 'move to another reflector after this long without a sign of life from ours').argParser(parseDurationMs))
    .addOption(new Option('--no-progress', 'no live progress line, even on a terminal'))
    .addOption(new Option('--log-level <level>', 'warnings and events on stderr').choices(['debug', 'info', 'warn', 'error', 'silent']).default('warn').env('RMESH_LOG_LEVEL'))
    .action(async (flags: ClientFlags) => {
      await runClient(flags);
    });
}

async function runClient(flags: ClientFlags): Promise<void> {
  const log = pino({ name: 'rmesh-client', level: flags.logLevel }, pino.destination(2));
  const live = flags.progress && process.stderr.isTTY === true;
  let previous: ClientReport | undefined;
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let report: ClientReport;
  const token = clientToken(flags);
  try {
    report = await runGenerator({
      join: flags.join,
      role: flags.role,
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(flags.bind !== undefined ? { bindAddress: flags.bind } : {}),
      ...(flags.failoverTimeout !== undefined ? { failoverTimeoutMs: flags.failoverTimeout } : {}),
      bitrateBps: flags.bitrate,
      packetSize: flags.packetSize,
      durationMs: flags.duration,
      lingerMs: flags.linger,
      dropEvery: flags.dropEvery,
      signal: abort.signal,
      onWarning: (err) => {
        if (live) process.stderr.write('\r\x1b[K');
        log.warn({ err: err.message }, 'mesh client warning');
      },
      ...(live
        ? {
            onProgress: (current: ClientReport) => {
              process.stderr.write(`\r\x1b[K${formatProgress(current, previous)}`);
              previous = current;
            },
          }
        : {}),
    });
  } catch (err) {
    throw describeJoinError(err);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    if (live) process.stderr.write('\r\x1b[K');
  }
  for (const e of [...report.migrations, ...report.failovers]) log.info(e, `${e.from} -> ${e.to}`);
  if (flags.report === 'json') process.stdout.write(formatJsonReport(report));
  else if (flags.report === 'text') process.stdout.write(formatTextReport(report));
}

/** "HOST:PORT,HOST:PORT": the reflectors to join through (also used by `rmesh proxy`). */
export function parseJoinList(value: string): string[] {
  const list = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new InvalidArgumentError('name at least one reflector as HOST:CONTROLPORT.');
  for (const item of list) parseHostPort(item);
  return list;
}

function parsePacketSize(value: string): number {
  const size = parsePositiveInt(value);
  if (size < GENERATOR_HEADER_SIZE || size > MAX_UDP_PAYLOAD) {
    throw new InvalidArgumentError(`${size} bytes is outside ${GENERATOR_HEADER_SIZE}-${MAX_UDP_PAYLOAD} (the RTP header with the generator's extension is ${GENERATOR_HEADER_SIZE} bytes).`);
  }
  return size;
}
