// `rmesh proxy`: puts an unmodified RTP application on the mesh. The application sends RTP to the
// --listen port (RTCP to the next) and receives the mesh's traffic on the --deliver port (RTCP on the
// next); the proxy does the rest. Runs until SIGINT or SIGTERM, logging JSON lines on stderr.
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { RtpProxy, type Endpoint } from '../tools/proxy/proxy.js';
import { formatEndpoint } from '../tools/proxy/local-ports.js';
import { parseJoinList } from './client.js';
import { clientToken, tokenFileOption, tokenOption, type TokenFlags } from './token-options.js';
import { UsageError } from './errors.js';
import { parseDurationMs, parseHostPort } from './option-parsers.js';

interface ProxyFlags extends TokenFlags {
  join: string[];
  role: 'sendrecv' | 'recvonly' | 'sendonly';
  name?: string;
  listen?: Endpoint;
  deliver?: Endpoint;
  rtcp: boolean;
  bind?: string;
  failoverTimeout?: number;
  statsInterval: number;
  logLevel: string;
}

export function register(program: Command): void {
  program
    .command('proxy')
    .description(
      'let an unmodified RTP application use the mesh: it sends RTP to the --listen port (RTCP to the next port) and ' +
        'receives the mesh traffic on the --deliver port (RTCP on the next); the proxy joins, registers, keeps alive, ' +
        'follows migrations and fails over',
    )
    .addOption(
      new Option('--join <host:port,...>', 'reflector(s) to join through (control port), comma-separated; tried in order')
        .env('RMESH_JOIN')
        .argParser(parseJoinList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option('--role <role>', 'sendrecv, recvonly or sendonly').choices(['sendrecv', 'recvonly', 'sendonly']).default('sendrecv').env('RMESH_PROXY_ROLE'),
    )
    .addOption(new Option('--name <name>', 'a name for this client, shown in the reflector status').env('RMESH_PROXY_NAME'))
    .addOption(tokenOption())
    .addOption(tokenFileOption())
    .addOption(
      new Option('--listen <host:port>', 'where the application sends RTP (RTCP to port+1); required unless --role recvonly (then any free ports)')
        .argParser(parseEndpoint)
        .env('RMESH_PROXY_LISTEN'),
    )
    .addOption(
      new Option('--deliver <host:port>', 'where the mesh traffic goes, RTP to port and RTCP to port+1 (default: back to the address the application sends from)')
        .argParser(parseEndpoint)
        .env('RMESH_PROXY_DELIVER'),
    )
    .addOption(new Option('--no-rtcp', 'carry RTP only, without the RTCP port'))
    .addOption(new Option('--bind <address>', 'local address of the sockets towards the mesh (default: any)'))
    .addOption(new Option('--failover-timeout <time>', 'move to another reflector after this long without a sign of life from ours').argParser(parseDurationMs))
    .addOption(new Option('--stats-interval <time>', 'log traffic counters this often').argParser(parseDurationMs).default(10_000, '10s'))
    .addOption(new Option('--log-level <level>', 'log level (JSON lines on stderr)').choices(['debug', 'info', 'warn', 'error', 'silent']).default('info').env('RMESH_LOG_LEVEL'))
    .action(async (flags: ProxyFlags) => {
      await runProxy(flags);
    });
}

async function runProxy(flags: ProxyFlags): Promise<void> {
  if (flags.role === 'recvonly' && !flags.deliver) {
    throw new UsageError('a recvonly proxy needs --deliver HOST:PORT: it has no application traffic to learn the address from.');
  }
  if (flags.role !== 'recvonly' && !flags.listen) {
    throw new UsageError(`a ${flags.role} proxy needs --listen HOST:PORT, the port the application sends its RTP to.`);
  }
  const token = clientToken(flags);
  const log = pino({ name: 'rmesh-proxy', level: flags.logLevel }, pino.destination(2));
  const proxy = new RtpProxy({
    join: flags.join,
    role: flags.role,
    listen: flags.listen ?? { host: flags.deliver!.host.includes(':') ? '::' : '0.0.0.0', port: 0 },
    rtcp: flags.rtcp,
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(token !== undefined ? { token } : {}),
    ...(flags.deliver !== undefined ? { deliver: flags.deliver } : {}),
    ...(flags.bind !== undefined ? { meshBindAddress: flags.bind } : {}),
    ...(flags.failoverTimeout !== undefined ? { failoverTimeoutMs: flags.failoverTimeout } : {}),
  });
  proxy.on('migrated', (e) =>
    log.info({ migrationId: e.migrationId, from: e.from.id, to: e.to.id, durationMs: round1(e.durationMs) }, 'migrated to another reflector'),
  );
  proxy.on('failover', (e) =>
    log.warn(
      { from: e.from.id, to: e.to.id, reason: e.reason, silentMs: e.silentMs, durationMs: round1(e.durationMs), clientId: e.clientId },
      'failed over to another reflector',
    ),
  );
  proxy.on('reflectors', (list) => log.info({ reflectors: list.map((r) => r.id) }, 'the mesh changed'));
  proxy.on('warning', (err) => log.warn({ err: err.message }, 'mesh client warning'));

  const ready = await proxy.start();
  log.info(
    {
      clientId: ready.session.clientId,
      reflector: ready.session.reflector.id,
      role: ready.session.role,
      listen: ready.listen.map(formatEndpoint),
      deliver: flags.deliver ? [flags.deliver, { ...flags.deliver, port: flags.deliver.port + 1 }].slice(0, ready.listen.length).map(formatEndpoint) : 'to the sender',
      rtcpInMesh: ready.session.portCount === 2,
    },
    'proxy ready',
  );
  const statsTimer = setInterval(() => log.info({ stats: proxy.stats() }, 'traffic'), flags.statsInterval);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(statsTimer);
  await proxy.stop();
  log.info({ stats: proxy.stats() }, 'proxy stopped');
}

function parseEndpoint(value: string): Endpoint {
  const { host, port } = parseHostPort(value);
  if (port === 65_535) throw new InvalidArgumentError(`port ${port} leaves no room for RTCP on the next port; use --no-rtcp or a lower port.`);
  return { host, port };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
