// Public types of the client SDK (MeshClient): its options, the events it emits and their payloads.
import type { PortIndex } from '../reflector/mirror/engine.js';
import type { ReflectorInfo, Role } from '../protocol/api-schemas.js';

export type { PortIndex, ReflectorInfo, Role };

export interface MeshClientOptions {
  /** Reflectors to join through, "HOST:CONTROLPORT" each; tried in order until one answers. */
  join: string | readonly string[];
  /** sendrecv (default), recvonly or sendonly. */
  role?: Role;
  /** A free-form name, shown in the reflector's status. */
  name?: string;
  /**
   * The client token (rmt1.…, from `rmesh token`) a keyed mesh needs to join; an open mesh needs none.
   * It is presented again on every failover (a fresh join), so it must outlive the session, or be a
   * function that returns a fresh one (called before each join).
   */
  token?: string | (() => string | Promise<string>);
  /** Local address the data socket(s) bind to (default 0.0.0.0). */
  bindAddress?: string;
  /** Local port of the socket for port index 0 (port index 1 uses bindPort + 1); 0 = any (default). */
  bindPort?: number;
  /** The serving reflector is deemed dead after this long without a sign of life (default 3000 ms). */
  failoverTimeoutMs?: number;
  /** Timeout of each HTTP request (default 3000 ms). */
  requestTimeoutMs?: number;
  /**
   * Receive buffer of each data socket, in bytes (default 1 MiB; the kernel caps it at its maximum):
   * room for bursts while the application is busy, instead of drops.
   */
  receiveBufferBytes?: number;
  /** How often REGISTER is resent until acknowledged (default 200 ms, as the protocol says). */
  registerRetryMs?: number;
}

/** The client's session at its serving reflector. */
export interface SessionInfo {
  clientId: string;
  role: Role;
  reflector: ReflectorInfo;
  reflectors: ReflectorInfo[];
  /** Number of data ports in use: 2 in RTP mode (RTP on index 0, RTCP on index 1), else 1. */
  portCount: 1 | 2;
}

export interface RegisteredEvent {
  session: SessionInfo;
  /** From the join request to the last REGISTER_ACK. */
  durationMs: number;
}

export interface MigratedEvent {
  migrationId: string;
  from: ReflectorInfo;
  to: ReflectorInfo;
  /** From the migrate order to the target's REGISTER_ACK on every port (the switch of sending). */
  durationMs: number;
}

export interface FailoverEvent {
  from: ReflectorInfo;
  to: ReflectorInfo;
  /** Why the client left its reflector: 'silent', 'refused', 'bye: <reason>' or 'requested'. */
  reason: string;
  /** How long the old reflector had been silent when the client gave up on it. */
  silentMs: number;
  /** From the decision to fail over to registered at the new reflector. */
  durationMs: number;
  /** The new session's client id (a failover is a fresh join). */
  clientId: string;
}

export interface DataSource {
  address: string;
  port: number;
}

export interface MeshClientStats {
  datagramsSent: number;
  datagramsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** send() calls made while no reflector was registered (during a failover). */
  sendsDropped: number;
  migrations: number;
  failovers: number;
}

/** The events a MeshClient emits, with their arguments. */
export interface MeshClientEvents {
  /** A payload from another client; the same Buffer must not be kept past the handler if reused. */
  data: [payload: Buffer, portIndex: PortIndex, from: DataSource];
  /** The client registered at a reflector (first join, and after each failover). */
  registered: [event: RegisteredEvent];
  /** The mesh moved the client to another reflector (make before break). */
  migrated: [event: MigratedEvent];
  /** The list of reflectors in the mesh changed. */
  reflectors: [reflectors: ReflectorInfo[]];
  /** The client's reflector failed and the client moved to another by itself. */
  failover: [event: FailoverEvent];
  /** Something went wrong that the client is working around (for example a failed failover attempt). */
  warning: [error: Error];
  /** The client left, or gave up; no more events follow. */
  closed: [reason: string];
}

/** Error from the mesh's control API, with the protocol's error code (for example RMESH_MESH_FULL). */
export class MeshError extends Error {
  override name = 'MeshError';
  constructor(
    message: string,
    readonly code: string,
    readonly statusCode: number,
    /** From a 429's Retry-After header: how long the reflector asks the caller to wait. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}
