// The reflector's settings (flags and RMESH_* environment variables, see cli/reflector.ts) and defaults.
import type { DataPlaneMode } from './native/select.js';
import type { ClientRateLimit } from './mirror/engine.js';
import type { RequestRateLimit } from './api/request-limits.js';
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
  adminToken: string | undefined;
  keepaliveIntervalMs: number;
  peerTimeoutMs: number;
  clientIdleTimeoutMs: number;
  /** 0 = no limit. */
  maxClientsPerReflector: number;
  /** 0 = no limit. */
  maxClients: number;
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

export const DEFAULTS = {
  keepaliveIntervalMs: 1000,
  peerTimeoutMs: 5000,
  clientIdleTimeoutMs: 10_000,
  maxClientsPerReflector: 0,
  maxClients: 0,
  maxDatagramSize: 1472,
  /** A stalled reflector's queue is not delivered late: media a second old is of no use to a listener. */
  maxDatagramAgeMs: 1000,
  /** No per-client rate limit unless set: a reflector alone does not know the media's rate (the operator does). */
  maxClientPps: 0,
  maxClientBitrate: 0,
  /** Bucket depth of the client rate limit: half a second at the rate takes a video key frame. */
  maxClientBurstMs: 500,
  /** Control API requests per second per source address, and the burst: room for a NAT'ed site of ~100 clients joining at once. */
  apiRateLimit: 20,
  apiRateBurst: 100,
  /** Control API connections in total: event streams of a few thousand clients, with room for the rest. */
  maxApiConnections: 16_384,
  /** Per source address: off, since a NAT'ed site or a proxy joins all its clients from one address. */
  maxSessionsPerSource: 0,
  registrationDeadlineMs: 5000,
  migrationGraceMs: 2000,
  drainTimeoutMs: 30_000,
  requestTimeoutMs: 2000,
} as const;
