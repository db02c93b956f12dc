// Caps on what one client token subject and one source address may hold at a reflector: sessions
// (reserved, active) plus joins still in flight, so one token or one address cannot fill the mesh and
// lock everybody else out (docs/security.md "Session caps"). Each session remembers its owner, also
// when it was placed at a peer or migrated there, and every reflector checks the sessions it holds.
// Pure decisions; the reflector applies them.
import { createHash } from 'node:crypto';
import { sessionLimit, type ApiError } from '../protocol/errors.js';
import type { ClientTokenClaims } from '../protocol/security/client-token.js';

/** Most sessions and pending joins per owner at one reflector; 0 = no limit. */
export interface SessionCaps {
  perSubject: number;
  perSource: number;
}

/** Who a session is counted against: its token's subject (keyed meshes) and the join's source address key. */
export interface SessionOwner {
  subject?: string;
  source?: string;
}

/** The per-subject cap when --max-sessions-per-subject is not given: a quarter of --max-clients, else 64. */
export function defaultSessionsPerSubject(maxClients: number): number {
  return maxClients > 0 ? Math.max(1, Math.ceil(maxClients / 4)) : 64;
}

/**
 * The subject a token is counted as: its `sub` claim; a token without one is its own subject (a hash of
 * the token), so the same token used many times is still one subject.
 */
export function tokenSubject(claims: ClientTokenClaims, token: string): string {
  if (claims.sub !== undefined) return `sub:${claims.sub}`;
  return `token:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;
}

/** Joins in flight at this reflector (the placement may wait on a peer), counted against their owners. */
export class PendingJoins {
  private readonly owners = new Set<{ owner: SessionOwner }>();

  /** Counts a join until the returned function is called. */
  add(owner: SessionOwner): () => void {
    const entry = { owner };
    this.owners.add(entry);
    return () => this.owners.delete(entry);
  }

  *all(): Iterable<SessionOwner> {
    for (const e of this.owners) yield e.owner;
  }
}

/**
 * The 429 RMESH_SESSION_LIMIT a new join of `owner` gets when what it already holds (`held`: the
 * sessions here and the joins in flight) is at a cap; undefined when it may join.
 */
export function sessionCapError(owner: SessionOwner, held: Iterable<SessionOwner>, caps: SessionCaps | undefined): ApiError | undefined {
  if (!caps || (caps.perSubject === 0 && caps.perSource === 0)) return undefined;
  let bySubject = 0;
  let bySource = 0;
  for (const h of held) {
    if (owner.subject !== undefined && h.subject === owner.subject) bySubject++;
    if (owner.source !== undefined && h.source === owner.source) bySource++;
  }
  if (caps.perSubject > 0 && owner.subject !== undefined && bySubject >= caps.perSubject) {
    return sessionLimit(`the client token's subject (${owner.subject}) already holds ${bySubject} sessions or joins at this reflector, its limit (--max-sessions-per-subject ${caps.perSubject})`, 'use a token per client (rmesh token --subject), or leave a session first');
  }
  if (caps.perSource > 0 && owner.source !== undefined && bySource >= caps.perSource) {
    return sessionLimit(`source address ${owner.source} already holds ${bySource} sessions or joins at this reflector, its limit (--max-sessions-per-source ${caps.perSource})`, 'leave a session first, or ask the operator to raise the limit for a site behind one address');
  }
  return undefined;
}
