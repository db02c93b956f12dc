// Client sessions at one reflector: admitted or reserved clients, their keys, roles, registered UDP
// endpoints per port index and migration state, and the forwarding table they make for the engine.
import { randomBytes } from 'node:crypto';
import { formatClientId, randomClientId } from '../protocol/wire/client-id.js';
import type { Endpoint, ForwardingClient } from './mirror/engine.js';
import type { Role } from '../protocol/api-schemas.js';
import { SessionEvents } from './session-events.js';
import type { SessionOwner } from './session-caps.js';

export type SessionState = 'reserved' | 'active' | 'departing';

export const SESSION_KEY_BYTES = 32;

export interface Session {
  id: number;
  idText: string;
  /** The client's origin id in peer copies: its id, or its first session's after a failover. */
  origin: number;
  key: Buffer;
  keyText: string;
  role: Role;
  name: string | undefined;
  /** Who the session counts against (session-caps.ts); kept across migrations. */
  owner: SessionOwner | undefined;
  state: SessionState;
  endpoints: [Endpoint | undefined, Endpoint | undefined];
  /** Last accepted nonce per port index: a replayed or older control datagram is refused. */
  lastNonce: [bigint, bigint];
  createdAtMs: number;
  /** Last accepted control datagram (REGISTER, KEEPALIVE); data activity is counted by the engine. */
  lastControlMs: number;
  /** Set while reserved for a migration from peer `from`: on registration we tell it `moved`. */
  incoming: { migrationId: string; from: string } | undefined;
  /**
   * Set while migrating away to peer `to`; kept, marked abandoned, when the client did not register at
   * the target in time, so that a late `moved` is still honoured.
   */
  outgoing: { migrationId: string; to: string; abandoned?: boolean; moved?: boolean } | undefined;
  /** The client's event streams (Server-Sent Events). */
  events: SessionEvents;
}

export interface NewSession {
  id?: number;
  /** The first session's id of a client failing over (JoinRequest.origin); default the id. */
  origin?: number;
  keyText?: string;
  role: Role;
  name?: string;
  owner?: SessionOwner | undefined;
  incoming?: { migrationId: string; from: string };
  /** Nonces already used per port index (a migrated client's, from its old reflector). */
  lastNonce?: [bigint, bigint];
}

export function roleSends(role: Role): boolean {
  return role !== 'recvonly';
}

export function roleReceives(role: Role): boolean {
  return role !== 'sendonly';
}

export class Sessions {
  private readonly map = new Map<number, Session>();

  /** Creates a reserved session; a fresh id and key unless given (a client admitted elsewhere or migrating). */
  create(spec: NewSession, nowMs: number): Session {
    let id = spec.id;
    while (id === undefined || (spec.id === undefined && this.map.has(id))) id = randomClientId();
    const keyText = spec.keyText ?? randomBytes(SESSION_KEY_BYTES).toString('base64url');
    const session: Session = {
      id,
      idText: formatClientId(id),
      origin: spec.origin ?? id,
      key: Buffer.from(keyText, 'base64url'),
      keyText,
      role: spec.role,
      name: spec.name,
      owner: spec.owner,
      state: 'reserved',
      endpoints: [undefined, undefined],
      lastNonce: spec.lastNonce ? [spec.lastNonce[0], spec.lastNonce[1]] : [0n, 0n],
      createdAtMs: nowMs,
      lastControlMs: nowMs,
      incoming: spec.incoming,
      outgoing: undefined,
      events: new SessionEvents(),
    };
    this.map.get(id)?.events.close();
    this.map.set(id, session);
    return session;
  }

  get(id: number): Session | undefined {
    return this.map.get(id);
  }

  has(id: number): boolean {
    return this.map.has(id);
  }

  delete(id: number): Session | undefined {
    const s = this.map.get(id);
    this.map.delete(id);
    return s;
  }

  all(): Session[] {
    return [...this.map.values()];
  }

  /** Clients this reflector counts as its own: reserved and active, not those departing. */
  count(): number {
    let n = 0;
    for (const s of this.map.values()) if (s.state !== 'departing') n++;
    return n;
  }

  /** The owners of the clients this reflector counts as its own (for the session caps). */
  *owners(): Iterable<SessionOwner> {
    for (const s of this.map.values()) if (s.state !== 'departing' && s.owner !== undefined) yield s.owner;
  }

  forwardingClients(): ForwardingClient[] {
    return this.all()
      .filter((s) => s.endpoints[0] !== undefined || s.endpoints[1] !== undefined)
      .map((s) => ({
        id: s.id,
        origin: s.origin,
        sends: roleSends(s.role),
        receives: roleReceives(s.role),
        endpoints: [s.endpoints[0], s.endpoints[1]] as const,
        deliver: s.state !== 'departing',
      }));
  }
}
