// `rmesh reflector`: runs one reflector of the mesh (data plane, peer mesh, control API). Every flag a
// pod would set is also read from an RMESH_* environment variable. SIGTERM drains the clients to the
// peers and exits 0; bad flags exit 2.
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { isIP } from 'node:net';
import { parseBitrateBps, parseDurationMs, parseHostPort, parseNonNegativeInt, parsePort, parsePositiveInt, parseTokenLifetimeSeconds, type HostPort } from './option-parsers.js';
import { UsageError } from './errors.js';
import { DEFAULTS, type ReflectorConfig } from '../reflector/config.js';
import { Reflector } from '../reflector/reflector.js';
import { DATA_PLANE_MODES, type DataPlaneMode } from '../reflector/native/select.js';
import { MeshKeyError, MESH_KEY_HOWTO } from '../protocol/security/mesh-key.js';
import { loadMeshKeySet, OPEN_KEY_SET, type MeshKeySet } from '../protocol/security/mesh-key-set.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../protocol/security/client-token.js';
import { defaultSessionsPerSubject } from '../reflector/session-caps.js';

interface Flags {
  id?: string;
  address: string;
  advertiseAddress?: string;
  dataPort: number;
  controlPort: number;
  join?: HostPort;
  rtp: boolean;
  adminToken?: string;
  keepaliveInterval: number;
  peerTimeout: number;
  clientIdleTimeout: number;
  maxClientsPerReflector: number;
  maxClients: number;
  maxDatagramSize: number;
  maxDatagramAge: number;
  maxClientPps: number;
  maxClientBitrate: number;
  maxClientBurst: number;
  apiRateLimit: number;
  apiRateBurst: number;
  logLevel: string;
  dataPlane: DataPlaneMode;
  registrationDeadline: number;
  migrationGrace: number;
  drainTimeout: number;
  meshKeyFile?: string;
  openMesh: boolean;
  openAdmin: boolean;
  maxApiConnections: number;
  meshName?: string;
  maxTokenLifetime: number;
  maxSessionsPerSubject?: number;
  maxSessionsPerSource: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseDatagramSize(value: string): number {
  const n = parseNonNegativeInt(value);
  // Room for the tagged peer copy: 40 bytes of header, epoch and tag (docs/protocol.md §2.4).
  if (n < 64 || n > 65507 - 40) throw new InvalidArgumentError(`"${value}" must be between 64 and 65467 bytes.`);
  return n;
}

/** A bitrate ("8Mbps", "500kbps", bit/s bare), or 0 / "off" for no limit. */
function parseBitrateLimit(value: string): number {
  const v = value.trim().toLowerCase();
  return v === '0' || v === 'off' ? 0 : parseBitrateBps(value);
}

/** A duration, or 0 / "off" for no bound. */
function parseDurationOrOff(value: string): number {
  const v = value.trim().toLowerCase();
  return v === '0' || v === 'off' ? 0 : parseDurationMs(value);
}

function parseBoolean(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  throw new InvalidArgumentError(`"${value}" is not true or false.`);
}

function parseIp(value: string): string {
  if (isIP(value) === 0) throw new InvalidArgumentError(`"${value}" is not an IP address.`);
  return value;
}

function parseMeshName(value: string): string {
  if (value.length < 1 || value.length > 253) throw new InvalidArgumentError('a mesh name is 1-253 characters.');
  return value;
}

function parseReflectorId(value: string): string {
  if (!/^[A-Za-z0-9._:-]{1,63}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a reflector id (1-63 of A-Z a-z 0-9 . _ : -).`);
  return value;
}

export function register(program: Command): void {
  const ms = (text: string) => `${text} (e.g. 500ms, 5s)`;
  program
    .command('reflector')
    .description('run one UDP/RTP reflector of the mesh: alone it is a mesh of one; with --join it joins a mesh through any member')
    .addOption(new Option('--id <id>', 'reflector id, unique in the mesh (default ADVERTISE_ADDRESS:CONTROL_PORT)').env('RMESH_ID').argParser(parseReflectorId))
    .addOption(new Option('--address <ip>', 'address to bind the data and control sockets to').env('RMESH_ADDRESS').default('0.0.0.0').argParser(parseIp))
    .addOption(new Option('--advertise-address <ip>', 'address clients and peers use (default --address)').env('RMESH_ADVERTISE_ADDRESS').argParser(parseIp))
    .addOption(new Option('--data-port <port>', 'UDP data port P (P+1 too with --rtp)').env('RMESH_DATA_PORT').default(5004).argParser(parsePort))
    .addOption(new Option('--control-port <port>', 'TCP port of the HTTP control API').env('RMESH_CONTROL_PORT').default(7400).argParser(parsePort))
    .addOption(new Option('--join <host:port>', 'join the mesh through this member (its control port)').env('RMESH_JOIN').argParser(parseHostPort))
    .addOption(new Option('--rtp [enabled]', 'RTP mode: serve P for RTP and P+1 for RTCP (true/false)').env('RMESH_RTP').default(false).argParser(parseBoolean))
    .addOption(new Option('--admin-token <token>', 'bearer token the admin and peer endpoints require').env('RMESH_ADMIN_TOKEN'))
    .addOption(new Option('--keepalive-interval <duration>', ms('peer and client keep-alive interval')).env('RMESH_KEEPALIVE_INTERVAL').default(DEFAULTS.keepaliveIntervalMs, '1s').argParser(parseDurationMs))
    .addOption(new Option('--peer-timeout <duration>', ms('a peer silent this long is removed')).env('RMESH_PEER_TIMEOUT').default(DEFAULTS.peerTimeoutMs, '5s').argParser(parseDurationMs))
    .addOption(new Option('--client-idle-timeout <duration>', ms('a client silent this long is purged')).env('RMESH_CLIENT_IDLE_TIMEOUT').default(DEFAULTS.clientIdleTimeoutMs, '10s').argParser(parseDurationMs))
    .addOption(new Option('--max-clients-per-reflector <n>', 'most clients this reflector serves; 0 = no limit').env('RMESH_MAX_CLIENTS_PER_REFLECTOR').default(0).argParser(parseNonNegativeInt))
    .addOption(new Option('--max-clients <n>', 'most clients in the whole mesh; 0 = no limit').env('RMESH_MAX_CLIENTS').default(0).argParser(parseNonNegativeInt))
    .addOption(new Option('--max-datagram-size <bytes>', 'largest client payload; larger ones are dropped').env('RMESH_MAX_DATAGRAM_SIZE').default(DEFAULTS.maxDatagramSize).argParser(parseDatagramSize))
    .addOption(new Option('--max-datagram-age <duration>', ms('data that waited longer than this in the data socket (the reflector stalled) is dropped, not delivered late; 0 = no bound')).env('RMESH_MAX_DATAGRAM_AGE').default(DEFAULTS.maxDatagramAgeMs, '1s').argParser(parseDurationOrOff))
    .addOption(new Option('--max-client-pps <n>', 'most data datagrams per second one client may send (per data port); excess is dropped before fan-out; 0 = no limit').env('RMESH_MAX_CLIENT_PPS').default(DEFAULTS.maxClientPps).argParser(parseNonNegativeInt))
    .addOption(new Option('--max-client-bitrate <rate>', 'most payload bits per second one client may send (per data port), e.g. 8Mbps; excess is dropped before fan-out; 0 = no limit').env('RMESH_MAX_CLIENT_BITRATE').default(DEFAULTS.maxClientBitrate).argParser(parseBitrateLimit))
    .addOption(new Option('--max-client-burst <duration>', ms('how long a client may send above its rate limits after a quiet spell (the token bucket depth)')).env('RMESH_MAX_CLIENT_BURST').default(DEFAULTS.maxClientBurstMs, '500ms').argParser(parseDurationMs))
    .addOption(new Option('--api-rate-limit <n>', 'control API requests per second per source address (IPv6: per /64) without the admin token; more get 429 with Retry-After; 0 = no limit').env('RMESH_API_RATE_LIMIT').default(DEFAULTS.apiRateLimit).argParser(parseNonNegativeInt))
    .addOption(new Option('--api-rate-burst <n>', 'control API requests a source may make at once (the bucket depth)').env('RMESH_API_RATE_BURST').default(DEFAULTS.apiRateBurst).argParser(parsePositiveInt))
    .addOption(new Option('--log-level <level>', 'log level').env('RMESH_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(new Option('--data-plane <kind>', 'packet loop: native (recvmmsg/sendmmsg addon), js, or auto (native when built)').env('RMESH_DATA_PLANE').default('auto').choices(DATA_PLANE_MODES))
    .addOption(new Option('--registration-deadline <duration>', ms('a client must register this soon after join or a migration order')).env('RMESH_REGISTRATION_DEADLINE').default(DEFAULTS.registrationDeadlineMs, '5s').argParser(parseDurationMs))
    .addOption(new Option('--migration-grace <duration>', ms("how long a migrated client's in-flight datagrams are still forwarded")).env('RMESH_MIGRATION_GRACE').default(DEFAULTS.migrationGraceMs, '2s').argParser(parseDurationMs))
    .addOption(new Option('--drain-timeout <duration>', ms('longest SIGTERM waits for the clients to move')).env('RMESH_DRAIN_TIMEOUT').default(DEFAULTS.drainTimeoutMs, '30s').argParser(parseDurationMs))
    .addOption(new Option('--mesh-key-file <path>', 'file holding the mesh key (base64 text or raw bytes, >= 32 bytes) or a key set ("current: KEY|open" and "accept: KEY|open" lines); read again every second and on SIGHUP, so a rotation needs no restart; or set RMESH_MESH_KEY to the base64 key').env('RMESH_MESH_KEY_FILE'))
    .addOption(new Option('--open-mesh [enabled]', 'run without a mesh key: peers and clients are NOT authenticated (true/false)').env('RMESH_OPEN_MESH').default(false).argParser(parseBoolean))
    .addOption(new Option('--open-admin [enabled]', 'in a keyed mesh, serve the admin routes (peer list, drain, migrate) WITHOUT credentials; a trusted network only (true/false)').env('RMESH_OPEN_ADMIN').default(false).argParser(parseBoolean))
    .addOption(new Option('--max-api-connections <n>', 'control API connections in total, event streams included (0 = no limit)').env('RMESH_MAX_API_CONNECTIONS').default(DEFAULTS.maxApiConnections).argParser(parseNonNegativeInt))
    .addOption(new Option('--mesh-name <name>', 'this mesh\'s name: client tokens must name it (rmesh token --mesh), so meshes that share a key do not take each other\'s tokens').env('RMESH_MESH_NAME').argParser(parseMeshName))
    .addOption(new Option('--max-token-lifetime <duration>', 'client tokens valid for longer than this (exp - iat) are refused (e.g. 12h, 7d)').env('RMESH_MAX_TOKEN_LIFETIME').default(MAX_TOKEN_LIFETIME_SECONDS, '366d').argParser(parseTokenLifetimeSeconds))
    .addOption(new Option('--max-sessions-per-subject <n>', 'most sessions and pending joins one token subject holds at this reflector; 0 = no limit (default: a quarter of --max-clients, else 64)').env('RMESH_MAX_SESSIONS_PER_SUBJECT').argParser(parseNonNegativeInt))
    .addOption(new Option('--max-sessions-per-source <n>', 'most sessions and pending joins one source address (IPv6: /64) holds at this reflector; 0 = no limit (a NAT\'ed site shares one address)').env('RMESH_MAX_SESSIONS_PER_SOURCE').default(DEFAULTS.maxSessionsPerSource).argParser(parseNonNegativeInt))
    .action(async (flags: Flags) => run(toConfig(flags), flags.logLevel));
}

export function toConfig(flags: Flags, env: NodeJS.ProcessEnv = process.env): ReflectorConfig {
  const advertiseAddress = flags.advertiseAddress ?? flags.address;
  if (advertiseAddress === '0.0.0.0' || advertiseAddress === '::') {
    throw new UsageError(`--address ${flags.address} binds every interface; set --advertise-address to the address clients and peers should use.`);
  }
  if (flags.rtp && flags.dataPort === 65535) throw new UsageError('--rtp needs --data-port + 1 too; choose a data port below 65535.');
  if (flags.peerTimeout <= flags.keepaliveInterval) {
    throw new UsageError(`--peer-timeout (${flags.peerTimeout} ms) must be longer than --keepalive-interval (${flags.keepaliveInterval} ms).`);
  }
  if (flags.clientIdleTimeout <= flags.keepaliveInterval) {
    throw new UsageError(`--client-idle-timeout (${flags.clientIdleTimeout} ms) must be longer than --keepalive-interval (${flags.keepaliveInterval} ms).`);
  }
  const meshKeys = meshKeysFrom(flags, env);
  if (flags.openAdmin && flags.adminToken) {
    throw new UsageError('--open-admin (RMESH_OPEN_ADMIN) and --admin-token were both given; drop --open-admin to require the token, or the token to open the admin routes.');
  }
  if (flags.openAdmin && meshKeys === OPEN_KEY_SET) {
    throw new UsageError('--open-admin is for a keyed mesh; in an open mesh (--open-mesh) the admin routes are already open unless --admin-token is set.');
  }
  return {
    id: flags.id ?? `${advertiseAddress}:${flags.controlPort}`,
    address: flags.address,
    advertiseAddress,
    dataPort: flags.dataPort,
    controlPort: flags.controlPort,
    join: flags.join,
    rtp: flags.rtp,
    adminToken: flags.adminToken || undefined,
    keepaliveIntervalMs: flags.keepaliveInterval,
    peerTimeoutMs: flags.peerTimeout,
    clientIdleTimeoutMs: flags.clientIdleTimeout,
    maxClientsPerReflector: flags.maxClientsPerReflector,
    maxClients: flags.maxClients,
    maxDatagramSize: flags.maxDatagramSize,
    maxDatagramAgeMs: flags.maxDatagramAge,
    ...(flags.maxClientPps > 0 || flags.maxClientBitrate > 0
      ? { clientRateLimit: { packetsPerSecond: flags.maxClientPps, bitsPerSecond: flags.maxClientBitrate, burstMs: flags.maxClientBurst } }
      : {}),
    ...(flags.apiRateLimit > 0 ? { apiRateLimit: { perSecond: flags.apiRateLimit, burst: flags.apiRateBurst } } : {}),
    dataPlane: flags.dataPlane,
    registrationDeadlineMs: flags.registrationDeadline,
    migrationGraceMs: flags.migrationGrace,
    drainTimeoutMs: flags.drainTimeout,
    requestTimeoutMs: Math.max(DEFAULTS.requestTimeoutMs, flags.keepaliveInterval),
    meshKey: meshKeys.current,
    meshKeys,
    ...(flags.meshKeyFile ? { meshKeyFile: flags.meshKeyFile } : {}),
    openMesh: meshKeys === OPEN_KEY_SET,
    openAdmin: flags.openAdmin,
    maxApiConnections: flags.maxApiConnections,
    ...(flags.meshName !== undefined ? { meshName: flags.meshName } : {}),
    maxTokenLifetimeSeconds: flags.maxTokenLifetime,
    sessionCaps: {
      perSubject: flags.maxSessionsPerSubject ?? defaultSessionsPerSubject(flags.maxClients),
      perSource: flags.maxSessionsPerSource,
    },
  };
}

/**
 * The mesh keys (a key, or a set in the key-set form), or the open set with --open-mesh; no key without
 * --open-mesh (or a key with it) is a usage error. A key file that says `current: open` is an open mesh
 * that can become keyed without a restart (docs/security.md "From an open mesh to a keyed one").
 */
function meshKeysFrom(flags: Flags, env: NodeJS.ProcessEnv): MeshKeySet {
  let key: MeshKeySet | undefined;
  try {
    key = loadMeshKeySet({ file: flags.meshKeyFile, base64: env.RMESH_MESH_KEY });
  } catch (err) {
    if (err instanceof MeshKeyError) throw new UsageError(err.message);
    throw err;
  }
  if (key !== undefined && flags.openMesh) {
    throw new UsageError('--open-mesh (RMESH_OPEN_MESH) and a mesh key were both given; drop --open-mesh to authenticate the mesh, or the key to run it open.');
  }
  if (key === undefined && !flags.openMesh) {
    throw new UsageError(`no mesh key: peers and clients are authenticated with it; ${MESH_KEY_HOWTO}; or pass --open-mesh (RMESH_OPEN_MESH=true) to run an unauthenticated mesh on a trusted network.`);
  }
  return key ?? OPEN_KEY_SET;
}

async function run(config: ReflectorConfig, level: string): Promise<void> {
  const log = pino({ level, base: { reflector: config.id } });
  const reflector = new Reflector(config, log);
  try {
    await reflector.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const what = e.code === 'EADDRINUSE' ? 'a port is already in use' : e.code === 'EADDRNOTAVAIL' ? 'the address is not on this host' : 'startup failed';
    log.fatal({ err: e.message, code: e.code }, what);
    process.stderr.write(`rmesh reflector: ${what}: ${e.message}; check --address, --data-port and --control-port\n`);
    await reflector.stop().catch(() => undefined);
    process.exit(1);
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: stopping now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'signal received');
      reflector.shutdown().then(resolve, (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    // SIGHUP reads the mesh key file now (it is also read every second): a rotation step at once.
    process.on('SIGHUP', () => reflector.reloadMeshKeys());
    process.on('SIGINT', onSignal);
  });
  process.exit(0);
}
