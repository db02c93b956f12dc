// The reflector's settings: one table, from which everything else that names a setting is made
// (issue 16): the options of `rmesh reflector` (cli/reflector.ts builds its commander options from it),
// the config's defaults (reflector/config.ts), the RMESH_* environment the operator gives reflector pods
// (operator/controller/pod-template.ts names each variable through `settingEnv`), and the reference in
// docs/protocol.md §4.1 (the section between the settings markers is `renderSettingsReference()`; a
// unit test fails when the doc is stale). Add a setting here and nowhere else by hand.
//
// Depends only on the value parsers (setting-values.ts, pure) and the token format's longest lifetime:
// the CLI, the operator and the docs all import this file, so it must not pull in the daemon.
import * as v from './setting-values.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from './security/client-token.js';

export interface Setting<T> {
  /** The command-line flag; the key of the setting in the table is its camelCase (commander's name). */
  flag: `--${string}`;
  /** The value's placeholder in the usage line: `<port>`, or `[enabled]` for a boolean that may stand alone. */
  arg: `<${string}>` | `[${string}]`;
  /** The environment variable that sets it when the flag is absent (the operator's pods use these). */
  env: `RMESH_${string}`;
  /** Text to value; throws SettingValueError. Absent: the text is the value. */
  parse?: (text: string) => T;
  /** The only values allowed (commander lists them in its error). */
  choices?: readonly string[];
  default?: T;
  /** How `--help` shows the default when the value reads badly (1000 -> "1s"). */
  defaultHelp?: string;
  /** One line for `rmesh reflector --help`. */
  help: string;
  /** The row of the reference in docs/protocol.md §4.1: the default as read there, and what it means. */
  reference: { default: string; meaning: string };
}

type WithDefault<T> = Setting<T> & { default: T };
type WithoutDefault<T> = Setting<T> & { default?: undefined };
const withDefault = <T>(s: WithDefault<T>): WithDefault<T> => s;
const optional = <T>(s: WithoutDefault<T>): WithoutDefault<T> => s;
const ms = (text: string) => `${text} (e.g. 500ms, 5s)`;

export const DATA_PLANE_MODES = ['auto', 'native', 'js'] as const;
export type DataPlaneMode = (typeof DATA_PLANE_MODES)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Checks a value against a setting's choices (commander does it for the CLI; this is for everyone else). */
function oneOf<T extends string>(choices: readonly T[]): (text: string) => T {
  return (text) => {
    if (!(choices as readonly string[]).includes(text)) throw new v.SettingValueError(`"${text}" is not one of ${choices.join(', ')}.`);
    return text as T;
  };
}

/** Every setting of `rmesh reflector`, in the order of its --help. */
export const REFLECTOR_SETTINGS = {
  id: optional({
    flag: '--id', arg: '<id>', env: 'RMESH_ID', parse: v.parseReflectorId,
    help: 'reflector id, unique in the mesh (default ADVERTISE_ADDRESS:CONTROL_PORT)',
    reference: { default: '`ADVERTISE:CONTROLPORT`', meaning: 'reflector id' },
  }),
  address: withDefault({
    flag: '--address', arg: '<ip>', env: 'RMESH_ADDRESS', parse: v.parseIp, default: '0.0.0.0',
    help: 'address to bind the data and control sockets to',
    reference: { default: '`0.0.0.0`', meaning: 'bind address (an IP)' },
  }),
  advertiseAddress: optional({
    flag: '--advertise-address', arg: '<ip>', env: 'RMESH_ADVERTISE_ADDRESS', parse: v.parseIp,
    help: 'address clients and peers use (default --address)',
    reference: { default: '`--address`', meaning: 'address clients and peers use; required when binding 0.0.0.0' },
  }),
  dataPort: withDefault({
    flag: '--data-port', arg: '<port>', env: 'RMESH_DATA_PORT', parse: v.parsePort, default: 5004,
    help: 'UDP data port P (P+1 too with --rtp)',
    reference: { default: '5004', meaning: 'UDP data port P' },
  }),
  controlPort: withDefault({
    flag: '--control-port', arg: '<port>', env: 'RMESH_CONTROL_PORT', parse: v.parsePort, default: 7400,
    help: 'TCP port of the HTTP control API',
    reference: { default: '7400', meaning: 'HTTP control port C' },
  }),
  join: optional({
    flag: '--join', arg: '<host:port>', env: 'RMESH_JOIN', parse: v.parseHostPort,
    help: 'join the mesh through this member (its control port)',
    reference: { default: '—', meaning: 'HOST:CONTROLPORT of any member' },
  }),
  rtp: withDefault({
    flag: '--rtp', arg: '[enabled]', env: 'RMESH_RTP', parse: v.parseBoolean, default: false,
    help: 'RTP mode: serve P for RTP and P+1 for RTCP (true/false)',
    reference: { default: 'false', meaning: 'serve P and P+1' },
  }),
  awaitPeerList: withDefault({
    flag: '--await-peer-list', arg: '[enabled]', env: 'RMESH_AWAIT_PEER_LIST', parse: v.parseBoolean, default: false,
    help: 'not ready (GET /readyz 503) until the operator has sent the peer list (PUT /v1/peers) (true/false)',
    reference: { default: 'false', meaning: 'a pod of an operator-run mesh is Ready only once it is wired into the mesh' },
  }),
  adminToken: optional<string>({
    flag: '--admin-token', arg: '<token>', env: 'RMESH_ADMIN_TOKEN',
    help: 'bearer token the admin and peer endpoints require',
    reference: { default: '—', meaning: 'bearer token of admin (and peer) endpoints, besides the mesh-key signature' },
  }),
  keepaliveInterval: withDefault({
    flag: '--keepalive-interval', arg: '<duration>', env: 'RMESH_KEEPALIVE_INTERVAL', parse: v.parseDurationMs, default: 1000, defaultHelp: '1s',
    help: ms('peer and client keep-alive interval'),
    reference: { default: '1s', meaning: 'peer and client keep-alive interval' },
  }),
  peerTimeout: withDefault({
    flag: '--peer-timeout', arg: '<duration>', env: 'RMESH_PEER_TIMEOUT', parse: v.parseDurationMs, default: 5000, defaultHelp: '5s',
    help: ms('a peer silent this long is removed'),
    reference: { default: '5s', meaning: 'silent peers are removed after this' },
  }),
  clientIdleTimeout: withDefault({
    flag: '--client-idle-timeout', arg: '<duration>', env: 'RMESH_CLIENT_IDLE_TIMEOUT', parse: v.parseDurationMs, default: 10_000, defaultHelp: '10s',
    help: ms('a client silent this long is purged'),
    reference: { default: '10s', meaning: 'silent clients are purged after this' },
  }),
  maxClientsPerReflector: withDefault({
    flag: '--max-clients-per-reflector', arg: '<n>', env: 'RMESH_MAX_CLIENTS_PER_REFLECTOR', parse: v.parseNonNegativeInt, default: 0,
    help: 'most clients this reflector serves; 0 = no limit',
    reference: { default: '0 (none)', meaning: 'admission limit per reflector' },
  }),
  maxClients: withDefault({
    flag: '--max-clients', arg: '<n>', env: 'RMESH_MAX_CLIENTS', parse: v.parseNonNegativeInt, default: 0,
    help: 'most clients in the whole mesh; 0 = no limit',
    reference: { default: '0 (none)', meaning: 'admission limit for the mesh' },
  }),
  budgetStreams: withDefault({
    flag: '--budget-streams', arg: '<n>', env: 'RMESH_BUDGET_STREAMS', parse: v.parseNonNegativeInt, default: 0,
    help: 'outbound streams one reflector may send (capacity x (1 - headroom) / bitrate), for the mesh capacity metrics; 0 = not exported',
    reference: { default: '0 (none)', meaning: 'outbound budget for rmesh_mesh_free_client_slots and rmesh_mesh_capacity_utilisation' },
  }),
  maxDatagramSize: withDefault({
    flag: '--max-datagram-size', arg: '<bytes>', env: 'RMESH_MAX_DATAGRAM_SIZE', parse: v.parseDatagramSize, default: 1472,
    help: 'largest client payload; larger ones are dropped',
    reference: { default: '1472', meaning: 'largest client payload' },
  }),
  maxDatagramAge: withDefault({
    // A stalled reflector's queue is not delivered late: media a second old is of no use to a listener.
    flag: '--max-datagram-age', arg: '<duration>', env: 'RMESH_MAX_DATAGRAM_AGE', parse: v.parseDurationOrOff, default: 1000, defaultHelp: '1s',
    help: ms('data that waited longer than this in the data socket (the reflector stalled) is dropped, not delivered late; 0 = no bound'),
    reference: { default: '1s', meaning: 'data that waited longer than this in the data socket (a stall) is dropped (`stale`), not delivered late; `0`/`off` = no bound (§2.5)' },
  }),
  maxClientPps: withDefault({
    // No per-client rate limit unless set: a reflector alone does not know the media's rate (the operator does).
    flag: '--max-client-pps', arg: '<n>', env: 'RMESH_MAX_CLIENT_PPS', parse: v.parseNonNegativeInt, default: 0,
    help: 'most data datagrams per second one client may send (per data port); excess is dropped before fan-out; 0 = no limit',
    reference: { default: '0 (none)', meaning: 'data datagrams/s one client may send per data port; excess dropped (`rate_limited`)' },
  }),
  maxClientBitrate: withDefault({
    flag: '--max-client-bitrate', arg: '<rate>', env: 'RMESH_MAX_CLIENT_BITRATE', parse: v.parseBitrateLimit, default: 0,
    help: 'most payload bits per second one client may send (per data port), e.g. 8Mbps; excess is dropped before fan-out; 0 = no limit',
    reference: { default: '0 (none)', meaning: 'payload bit/s one client may send per data port (`8Mbps`, `500kbps`, bare bit/s)' },
  }),
  maxClientBurst: withDefault({
    // Half a second at the rate takes a video key frame.
    flag: '--max-client-burst', arg: '<duration>', env: 'RMESH_MAX_CLIENT_BURST', parse: v.parseDurationMs, default: 500, defaultHelp: '500ms',
    help: ms('how long a client may send above its rate limits after a quiet spell (the token bucket depth)'),
    reference: { default: '500ms', meaning: 'token bucket depth of both client limits, as time at the rate' },
  }),
  apiRateLimit: withDefault({
    // With the burst: room for a NAT'ed site of ~100 clients joining at once.
    flag: '--api-rate-limit', arg: '<n>', env: 'RMESH_API_RATE_LIMIT', parse: v.parseNonNegativeInt, default: 20,
    help: 'control API requests per second per source address (IPv6: per /64) without the admin token; more get 429 with Retry-After; 0 = no limit',
    reference: { default: '20', meaning: 'control API requests/s per source address (IPv6: per /64) on the client routes; 0 = none' },
  }),
  apiRateBurst: withDefault({
    flag: '--api-rate-burst', arg: '<n>', env: 'RMESH_API_RATE_BURST', parse: v.parsePositiveInt, default: 100,
    help: 'control API requests a source may make at once (the bucket depth)',
    reference: { default: '100', meaning: 'requests a source may make at once' },
  }),
  logLevel: withDefault({
    flag: '--log-level', arg: '<level>', env: 'RMESH_LOG_LEVEL', parse: oneOf(LOG_LEVELS), choices: LOG_LEVELS, default: 'info',
    help: 'log level',
    reference: { default: 'info', meaning: 'pino level (JSON logs on stdout)' },
  }),
  dataPlane: withDefault<DataPlaneMode>({
    flag: '--data-plane', arg: '<kind>', env: 'RMESH_DATA_PLANE', parse: oneOf(DATA_PLANE_MODES), choices: DATA_PLANE_MODES, default: 'auto',
    help: 'packet loop: native (recvmmsg/sendmmsg addon), js, or auto (native when built)',
    reference: { default: 'auto', meaning: '`native`, `js`, or `auto` (native when its addon loads)' },
  }),
  registrationDeadline: withDefault({
    flag: '--registration-deadline', arg: '<duration>', env: 'RMESH_REGISTRATION_DEADLINE', parse: v.parseDurationMs, default: 5000, defaultHelp: '5s',
    help: ms('a client must register this soon after join or a migration order'),
    reference: { default: '5s', meaning: '`registrationDeadlineMs`' },
  }),
  migrationGrace: withDefault({
    flag: '--migration-grace', arg: '<duration>', env: 'RMESH_MIGRATION_GRACE', parse: v.parseDurationMs, default: 2000, defaultHelp: '2s',
    help: ms("how long a migrated client's in-flight datagrams are still forwarded"),
    reference: { default: '2s', meaning: "how long a migrated client's in-flight data is still forwarded" },
  }),
  drainTimeout: withDefault({
    flag: '--drain-timeout', arg: '<duration>', env: 'RMESH_DRAIN_TIMEOUT', parse: v.parseDurationMs, default: 30_000, defaultHelp: '30s',
    help: ms('longest SIGTERM waits for the clients to move'),
    reference: { default: '30s', meaning: 'longest SIGTERM waits for the drain' },
  }),
  meshKeyFile: optional<string>({
    flag: '--mesh-key-file', arg: '<path>', env: 'RMESH_MESH_KEY_FILE',
    help: 'file holding the mesh key (base64 text or raw bytes, >= 32 bytes) or a key set ("current: KEY|open" and "accept: KEY|open" lines); read again every second and on SIGHUP, so a rotation needs no restart; or set RMESH_MESH_KEY to the base64 key',
    reference: {
      default: '—',
      meaning:
        'file with the mesh key (base64 text or raw bytes, ≥ 32 bytes), or a key set (`current: KEY\\|open` and `accept: KEY\\|open` lines; docs/security.md "Rotating the mesh key"), read again every second and on SIGHUP; or `RMESH_MESH_KEY` = the base64 key or a key set (read at start only)',
    },
  }),
  openMesh: withDefault({
    flag: '--open-mesh', arg: '[enabled]', env: 'RMESH_OPEN_MESH', parse: v.parseBoolean, default: false,
    help: 'run without a mesh key: peers and clients are NOT authenticated (true/false)',
    reference: { default: 'false', meaning: 'run without a key: peers and clients unauthenticated; without a key and without it the reflector exits 2' },
  }),
  openAdmin: withDefault({
    flag: '--open-admin', arg: '[enabled]', env: 'RMESH_OPEN_ADMIN', parse: v.parseBoolean, default: false,
    help: 'in a keyed mesh, serve the admin routes (peer list, drain, migrate) WITHOUT credentials; a trusted network only (true/false)',
    reference: {
      default: 'false',
      meaning: 'in a keyed mesh, serve the admin endpoints without credentials (a trusted network only; warned at start); refused with `--admin-token` or `--open-mesh`',
    },
  }),
  maxApiConnections: withDefault({
    // Event streams of a few thousand clients, with room for the rest.
    flag: '--max-api-connections', arg: '<n>', env: 'RMESH_MAX_API_CONNECTIONS', parse: v.parseNonNegativeInt, default: 16_384,
    help: 'control API connections in total, event streams included (0 = no limit)',
    reference: { default: '16384', meaning: 'control API connections in total, event streams included; one more is closed unanswered; 0 = none' },
  }),
  meshName: optional({
    flag: '--mesh-name', arg: '<name>', env: 'RMESH_MESH_NAME', parse: v.parseMeshName,
    help: "this mesh's name: client tokens must name it (rmesh token --mesh), so meshes that share a key do not take each other's tokens",
    reference: {
      default: '— (not checked)',
      meaning: "this mesh's name: a client token must name it (`rmesh token --mesh NAME`); a token for another mesh, or naming none, gets `401 RMESH_TOKEN_WRONG_MESH`",
    },
  }),
  maxTokenLifetime: withDefault({
    flag: '--max-token-lifetime', arg: '<duration>', env: 'RMESH_MAX_TOKEN_LIFETIME', parse: v.parseTokenLifetimeSeconds, default: MAX_TOKEN_LIFETIME_SECONDS, defaultHelp: '366d',
    help: 'client tokens valid for longer than this (exp - iat) are refused (e.g. 12h, 7d)',
    reference: { default: '366d', meaning: 'client tokens valid longer than this (`exp` − `iat`; `12h`, `7d`) get `401 RMESH_TOKEN_LIFETIME`' },
  }),
  maxSessionsPerSubject: optional({
    flag: '--max-sessions-per-subject', arg: '<n>', env: 'RMESH_MAX_SESSIONS_PER_SUBJECT', parse: v.parseNonNegativeInt,
    help: 'most sessions and pending joins one token subject holds at this reflector; 0 = no limit (default: a quarter of --max-clients, else 64)',
    reference: {
      default: 'a quarter of `--max-clients`, else 64',
      meaning: 'sessions plus pending joins one token subject may hold at a reflector; 0 = none; beyond, `429 RMESH_SESSION_LIMIT`',
    },
  }),
  maxSessionsPerSource: withDefault({
    // Off, since a NAT'ed site or a proxy joins all its clients from one address.
    flag: '--max-sessions-per-source', arg: '<n>', env: 'RMESH_MAX_SESSIONS_PER_SOURCE', parse: v.parseNonNegativeInt, default: 0,
    help: "most sessions and pending joins one source address (IPv6: /64) holds at this reflector; 0 = no limit (a NAT'ed site shares one address)",
    reference: {
      default: '0 (none)',
      meaning: "the same per source address of the join (IPv6: per /64); off by default because a NAT'ed site or a proxy joins all its clients from one address",
    },
  }),
};

export type ReflectorSettings = typeof REFLECTOR_SETTINGS;
export type SettingName = keyof ReflectorSettings;

type ValueOf<S> = S extends Setting<infer T> ? T : never;
type Defaulted = { [K in SettingName]: ReflectorSettings[K] extends { default: NonNullable<unknown> } ? K : never }[SettingName];

/** The settings' values as commander gives them (one per setting, by its key); those without a default may be absent. */
export type ReflectorSettingValues = { [K in Defaulted]: ValueOf<ReflectorSettings[K]> } & {
  [K in Exclude<SettingName, Defaulted>]?: ValueOf<ReflectorSettings[K]>;
};

/** The environment variable of a setting, for those who set it (the operator's pod template). */
export function settingEnv(name: SettingName): string {
  return REFLECTOR_SETTINGS[name].env;
}

/** Variables read besides the settings': the mesh key itself, never on a command line (docs/security.md). */
export const MESH_KEY_ENV = 'RMESH_MESH_KEY';

/** Every RMESH_* variable the reflector reads. */
export function reflectorEnvNames(): string[] {
  return [...Object.values(REFLECTOR_SETTINGS).map((s) => s.env), MESH_KEY_ENV];
}

/** The default of a setting that has one (the config's defaults). */
export function settingDefault<K extends Defaulted>(name: K): ValueOf<ReflectorSettings[K]> {
  return REFLECTOR_SETTINGS[name].default as ValueOf<ReflectorSettings[K]>;
}

export const REFERENCE_BEGIN = '<!-- settings reference: generated from protocol/settings.ts by renderSettingsReference(); do not edit -->';
export const REFERENCE_END = '<!-- end of settings reference -->';

/** The reference table of docs/protocol.md §4.1, markers included. */
export function renderSettingsReference(): string {
  const rows = Object.values(REFLECTOR_SETTINGS).map((s: Setting<unknown>) => {
    const flag = s.arg.startsWith('[') ? `${s.flag} [true\\|false]` : s.flag;
    return `| \`${flag}\` | \`${s.env}\` | ${s.reference.default} | ${s.reference.meaning} |`;
  });
  return [REFERENCE_BEGIN, '| flag | env | default | meaning |', '|---|---|---|---|', ...rows, REFERENCE_END].join('\n');
}

/** `doc` (docs/protocol.md) with its settings reference replaced by the table's; throws when the markers are missing. */
export function withSettingsReference(doc: string): string {
  const begin = doc.indexOf(REFERENCE_BEGIN);
  const end = doc.indexOf(REFERENCE_END);
  if (begin < 0 || end < begin) throw new Error(`docs/protocol.md has lost its settings markers; put back "${REFERENCE_BEGIN}" and "${REFERENCE_END}" around §4.1's table`);
  return doc.slice(0, begin) + renderSettingsReference() + doc.slice(end + REFERENCE_END.length);
}
