// The reflector's configuration, as `rmesh reflector` makes it from the settings (protocol/settings.ts,
// the one table of flags, RMESH_* variables and defaults; cli/reflector.ts maps them here).
import { settingDefault, type DataPlaneMode } from '../protocol/settings.js';
import type { ClientRateLimit } from './mirror/engine.js';
import type { RequestRateLimit } from '../protocol/http-limits.js';
import type { MeshKeySet } from '../protocol/security/mesh-key-set.js';
import type { SessionCaps } from './session-caps.js';

export interface ReflectorConfig {
  /** Unique in the mesh; defaults to ADVERTISE_ADDRESS:CONTROLPORT. */
  id: string;
  /** Bind address of the data and control sockets. */
  address: string;
  /** Address clients and peers use (an IP address). */
  advertiseAddress: string;
  dataPort: number;
  controlPort: number;
  /** HOST:CONTROLPORT of any member to join through. */
  join: { host: string; port: number } | undefined;
  rtp: boolean;
  /**
   * --await-peer-list: not ready until the first PUT /v1/peers (the operator sets it on its pods): a new
   * pod must not count as serving, nor be given clients, before it is wired into the mesh.
   */
  awaitPeerList?: boolean;
  adminToken: string | undefined;
  keepaliveIntervalMs: number;
  peerTimeoutMs: number;
  clientIdleTimeoutMs: number;
  /** 0 = no limit. */
  maxClientsPerReflector: number;
  /** 0 = no limit. */
  maxClients: number;
  /** Outbound streams one reflector may send (the operator's budget); 0 = unknown, no capacity metrics. */
  budgetStreams: number;
  maxDatagramSize: number;
  /** Data older than this on arrival in the packet loop is dropped (docs/protocol.md §2.5); 0 = no bound. */
  maxDatagramAgeMs: number;
  /** Per-client policing of data datagrams (--max-client-pps, --max-client-bitrate, --max-client-burst); absent = none. */
  clientRateLimit?: ClientRateLimit;
  /** Control API requests per source address (--api-rate-limit, --api-rate-burst); absent = none (the CLI sets its default). */
  apiRateLimit?: RequestRateLimit;
  dataPlane: DataPlaneMode;
  /** A client must register within this long after join/admit, and within a migration. */
  registrationDeadlineMs: number;
  /** How long a migrated client's in-flight datagrams are still forwarded. */
  migrationGraceMs: number;
  /** Longest a SIGTERM waits for the drain before exiting anyway. */
  drainTimeoutMs: number;
  /** Timeout of reflector-to-reflector requests. */
  requestTimeoutMs: number;
  /**
   * The mesh key (protocol/security/mesh-key.ts), from --mesh-key-file or RMESH_MESH_KEY; every
   * security mechanism derives its subkey from it. Undefined only in an open mesh (--open-mesh).
   */
  meshKey: Buffer | undefined;
  /**
   * The mesh keys at start (protocol/security/mesh-key-set.ts): meshKey is their current key. During
   * a rotation or the way out of an open mesh they hold accepted keys too; the running set is the
   * reflector's meshKeys, which follows the key file.
   */
  meshKeys: MeshKeySet;
  /** The key file (--mesh-key-file), read again every second and on SIGHUP: key rotation without a restart. */
  meshKeyFile?: string;
  /** Explicitly unauthenticated: no mesh key, peers and clients are not authenticated. */
  openMesh: boolean;
  /** --open-admin: the admin routes of a keyed mesh take requests without credentials (a trusted network only). */
  openAdmin: boolean;
  /** Control API connections in total (--max-api-connections); 0 = no limit. */
  maxApiConnections: number;
  /** This mesh's name (--mesh-name): client tokens must name it (their `mesh` claim); undefined = not checked. */
  meshName?: string | undefined;
  /** The longest client token lifetime (exp - iat) accepted (--max-token-lifetime). */
  maxTokenLifetimeSeconds?: number | undefined;
  /** Most sessions and pending joins per token subject and per source address (session-caps.ts); absent = none. */
  sessionCaps?: SessionCaps;
}

/** The defaults of the settings table (protocol/settings.ts), by the config's names, and of what no flag sets. */
export const DEFAULTS = {
  keepaliveIntervalMs: settingDefault('keepaliveInterval'),
  peerTimeoutMs: settingDefault('peerTimeout'),
  clientIdleTimeoutMs: settingDefault('clientIdleTimeout'),
  maxClientsPerReflector: settingDefault('maxClientsPerReflector'),
  maxClients: settingDefault('maxClients'),
  budgetStreams: settingDefault('budgetStreams'),
  maxDatagramSize: settingDefault('maxDatagramSize'),
  maxDatagramAgeMs: settingDefault('maxDatagramAge'),
  maxClientPps: settingDefault('maxClientPps'),
  maxClientBitrate: settingDefault('maxClientBitrate'),
  maxClientBurstMs: settingDefault('maxClientBurst'),
  apiRateLimit: settingDefault('apiRateLimit'),
  apiRateBurst: settingDefault('apiRateBurst'),
  maxApiConnections: settingDefault('maxApiConnections'),
  maxSessionsPerSource: settingDefault('maxSessionsPerSource'),
  registrationDeadlineMs: settingDefault('registrationDeadline'),
  migrationGraceMs: settingDefault('migrationGrace'),
  drainTimeoutMs: settingDefault('drainTimeout'),
  /** Timeout of reflector-to-reflector requests (at least the keep-alive interval); no flag. */
  requestTimeoutMs: 2000,
} as const;
