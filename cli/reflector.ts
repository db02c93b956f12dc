// `rmesh reflector`: runs one reflector of the mesh (data plane, peer mesh, control API). Its options are
// made from the settings table (protocol/settings.ts): each flag is also read from its RMESH_*
// environment variable. SIGTERM drains the clients to the peers and exits 0; bad flags exit 2.
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { commanderParser } from './option-parsers.js';
import { UsageError } from './errors.js';
import { DEFAULTS, type ReflectorConfig } from '../reflector/config.js';
import { Reflector } from '../reflector/reflector.js';
import { MESH_KEY_ENV, REFLECTOR_SETTINGS, type ReflectorSettingValues, type Setting } from '../protocol/settings.js';
import { MeshKeyError, MESH_KEY_HOWTO } from '../protocol/security/mesh-key.js';
import { loadMeshKeySet, OPEN_KEY_SET, type MeshKeySet } from '../protocol/security/mesh-key-set.js';
import { defaultSessionsPerSubject } from '../reflector/session-caps.js';

/** What commander gives the action: a value per setting of protocol/settings.ts. */
type Flags = ReflectorSettingValues;

/** A setting of the table as a commander option: flag, placeholder, help, variable, default, parser or choices. */
export function settingOption(setting: Setting<unknown>): Option {
  const option = new Option(`${setting.flag} ${setting.arg}`, setting.help).env(setting.env);
  if (setting.default !== undefined) option.default(setting.default, setting.defaultHelp);
  // commander's choices() checks the value and lists the choices in its message; a parser would replace it.
  if (setting.choices) option.choices(setting.choices);
  else if (setting.parse) option.argParser(commanderParser(setting.parse));
  return option;
}

export function register(program: Command): void {
  const command = program
    .command('reflector')
    .description('run one UDP/RTP reflector of the mesh: alone it is a mesh of one; with --join it joins a mesh through any member');
  for (const setting of Object.values(REFLECTOR_SETTINGS)) command.addOption(settingOption(setting));
  command.action(async (flags: Flags) => run(toConfig(flags), flags.logLevel));
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
    awaitPeerList: flags.awaitPeerList,
    adminToken: flags.adminToken || undefined,
    keepaliveIntervalMs: flags.keepaliveInterval,
    peerTimeoutMs: flags.peerTimeout,
    clientIdleTimeoutMs: flags.clientIdleTimeout,
    maxClientsPerReflector: flags.maxClientsPerReflector,
    maxClients: flags.maxClients,
    budgetStreams: flags.budgetStreams,
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
    key = loadMeshKeySet({ file: flags.meshKeyFile, base64: env[MESH_KEY_ENV] });
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
