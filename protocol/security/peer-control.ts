// Authenticated peer requests (docs/protocol.md §3.2, docs/security.md "Authenticated peers"): in a
// mesh with a key, every request a reflector makes to a peer's /v1/peers/* routes is signed with the
// peer-control subkey of the mesh key:
//
//   Authorization: RMESH-HMAC ts=<ms since the Unix epoch>,nonce=<base64url 12 bytes>,sig=<base64url>
//   sig = HMAC-SHA256(peer-control key, "rmesh peer request v1\n" METHOD "\n" PATH "\n" ts "\n" nonce "\n" hex(SHA-256(body)))
//
// The receiver accepts a signature at most FRESHNESS_MS old (or early: clocks drift) and remembers the
// nonces it accepted for that long, so a captured request cannot be replayed. During a key rotation a
// request verifies with any key of the set (current first); the sender signs with its current key. A static bearer derived
// from the key would be simpler but, over plain HTTP, one capture would open the peer routes for good.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { deriveMeshSubkey } from './mesh-key.js';

export const PEER_AUTH_SCHEME = 'RMESH-HMAC';
/** How far a request's timestamp may be from the receiver's clock. */
export const FRESHNESS_MS = 30_000;
/** Most nonces remembered (a flood of valid requests is not expected from peers; beyond, oldest go). */
const MAX_NONCES = 100_000;

export function peerControlKey(meshKey: Buffer): Buffer {
  return deriveMeshSubkey(meshKey, 'peer-control');
}

function signature(key: Buffer, method: string, path: string, ts: string, nonce: string, bodyHash: Buffer): Buffer {
  const text = `rmesh peer request v1\n${method.toUpperCase()}\n${path}\n${ts}\n${nonce}\n${bodyHash.toString('hex')}`;
  return createHmac('sha256', key).update(text).digest();
}

export function sha256(body: string | Buffer): Buffer {
  return createHash('sha256').update(body).digest();
}

/** The Authorization header value of a peer request; path includes the query string. */
export function signPeerRequest(key: Buffer, method: string, path: string, body: string | Buffer, now = Date.now()): string {
  const ts = String(Math.floor(now));
  const nonce = randomBytes(12).toString('base64url');
  const sig = signature(key, method, path, ts, nonce, sha256(body)).toString('base64url');
  return `${PEER_AUTH_SCHEME} ts=${ts},nonce=${nonce},sig=${sig}`;
}

export interface PeerAuthorization {
  ts: string;
  nonce: string;
  sig: Buffer;
}

/** The parts of an RMESH-HMAC header, or undefined when it is not one (or malformed). */
export function parsePeerAuthorization(header: string | undefined): PeerAuthorization | undefined {
  if (!header?.startsWith(`${PEER_AUTH_SCHEME} `)) return undefined;
  const m = /^ts=(\d{1,16}),nonce=([A-Za-z0-9_-]{16}),sig=([A-Za-z0-9_-]{43})$/.exec(header.slice(PEER_AUTH_SCHEME.length + 1).trim());
  if (!m) return undefined;
  return { ts: m[1]!, nonce: m[2]!, sig: Buffer.from(m[3]!, 'base64url') };
}

/** Checks signed peer requests and refuses replays; one per reflector. */
export class PeerRequestVerifier {
  /** nonce -> time it may be forgotten */
  private readonly nonces = new Map<string, number>();

  private readonly keys: () => readonly Buffer[];

  /** One peer-control subkey, or the live list of them (current first) during rotations. */
  constructor(
    keys: Buffer | (() => readonly Buffer[]),
    private readonly now: () => number = Date.now,
  ) {
    this.keys = Buffer.isBuffer(keys) ? () => [keys] : keys;
  }

  /** Whether any key verifies now (none in an open mesh). */
  canVerify(): boolean {
    return this.keys().length > 0;
  }

  /** Cheap check before the body is read: a well-formed, fresh RMESH-HMAC header. Returns why not, or undefined. */
  precheck(header: string | undefined): string | undefined {
    const auth = parsePeerAuthorization(header);
    if (!auth) return 'no peer signature (Authorization: RMESH-HMAC ...): peers sign their requests with the mesh key';
    const skew = Math.abs(this.now() - Number(auth.ts));
    if (skew > FRESHNESS_MS) return `the peer signature is ${Math.round(skew / 1000)} s away from this reflector's clock (at most ${FRESHNESS_MS / 1000} s): check the clocks (NTP)`;
    return undefined;
  }

  /** Full check once the body's hash is known; records the nonce. Returns why it fails, or undefined. */
  verify(header: string | undefined, method: string, path: string, bodyHash: Buffer): string | undefined {
    const problem = this.precheck(header);
    if (problem) return problem;
    const auth = parsePeerAuthorization(header)!;
    const verifies = (key: Buffer) => {
      const expected = signature(key, method, path, auth.ts, auth.nonce, bodyHash);
      return auth.sig.length === expected.length && timingSafeEqual(auth.sig, expected);
    };
    if (!this.keys().some(verifies)) {
      return 'the peer signature does not verify: the peer has another mesh key, or the request was altered';
    }
    const now = this.now();
    this.forgetOld(now);
    if (this.nonces.has(auth.nonce)) return 'this signed request was seen before (a replay)';
    this.nonces.set(auth.nonce, now + 2 * FRESHNESS_MS);
    return undefined;
  }

  private forgetOld(now: number): void {
    // Insertion order is expiry order (a constant lifetime), so the oldest are at the front.
    for (const [nonce, until] of this.nonces) {
      if (until > now && this.nonces.size < MAX_NONCES) break;
      this.nonces.delete(nonce);
    }
  }
}
