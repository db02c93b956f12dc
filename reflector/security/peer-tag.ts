// Tags of reflector-to-reflector datagrams (docs/protocol.md §2.4, docs/security.md "Authenticated
// peers"). Every data socket of a reflector has its own tag key, derived from the mesh key and the
// socket's address, so a datagram tagged by one reflector cannot be passed off as another's (each peer's
// replay window is keyed by the source the receiver sees, and the key binds that source):
//
//   K(address, port) = HKDF-SHA256(mesh key, salt "rmesh mesh key v1", info "rmesh/peer-tag/endpoint ADDRESS PORT")
//   tag = HMAC-SHA256(K(sender's data address and port), header | epoch | payload)[0..16)
//
// The sender computes one tag per datagram whatever the number of peers (the copies are the same).
// node:crypto has no reusable HMAC state, so each tag costs one Hmac object and one 32-byte digest in
// the JavaScript engine; the native engine reuses precomputed inner/outer SHA-256 states instead.
import { createHmac } from 'node:crypto';
import { deriveMeshSubkey } from '../../protocol/security/mesh-key.js';
import { verifyKeys, type MeshKeySet } from '../../protocol/security/mesh-key-set.js';
import { PEER_TAG_SIZE } from '../../protocol/wire/peer-header.js';

export function peerEndpointKey(meshKey: Buffer, address: string, port: number): Buffer {
  return deriveMeshSubkey(meshKey, 'peer-tag', `endpoint ${address} ${port}`);
}

/** The tag keys of data sockets, derived once per address and port. */
export class PeerTagKeys {
  private readonly cache = new Map<string, Buffer>();
  constructor(private readonly meshKey: Buffer) {}

  endpoint(address: string, port: number): Buffer {
    const id = `${address} ${port}`;
    let key = this.cache.get(id);
    if (!key) {
      key = peerEndpointKey(this.meshKey, address, port);
      if (this.cache.size > 4096) this.cache.clear();
      this.cache.set(id, key);
    }
    return key;
  }
}

/**
 * The tag keys of a mesh key set (protocol/security/mesh-key-set.ts): this reflector's copies are
 * tagged with the current key's, a peer's copies verify with any key of the set (current first).
 */
export class PeerTagKeyRing {
  private readonly signing: PeerTagKeys | undefined;
  private readonly verifying: PeerTagKeys[];
  readonly acceptUnsigned: boolean;

  constructor(set: MeshKeySet) {
    this.signing = set.current ? new PeerTagKeys(set.current) : undefined;
    this.verifying = verifyKeys(set).map((k) => new PeerTagKeys(k));
    this.acceptUnsigned = set.acceptUnsigned;
  }

  /** The key this reflector tags the copies of its data socket with; undefined = sent untagged. */
  signKey(address: string, port: number): Buffer | undefined {
    return this.signing?.endpoint(address, port);
  }

  /** The keys a peer data socket's copies verify with, the current key's first; empty in an open mesh. */
  verifyKeys(address: string, port: number): Buffer[] {
    return this.verifying.map((k) => k.endpoint(address, port));
  }
}

/** Writes the tag of buf[0, length) at buf[length, length + 16); the buffer must have the room. */
export function writePeerTag(buf: Buffer, length: number, key: Buffer): void {
  const digest = createHmac('sha256', key).update(buf.subarray(0, length)).digest();
  digest.copy(buf, length, 0, PEER_TAG_SIZE);
}

/** True when the last 16 bytes of buf[0, length) are the tag of what precedes them; constant time. */
export function verifyPeerTag(buf: Buffer, length: number, key: Buffer): boolean {
  const body = length - PEER_TAG_SIZE;
  if (body < 0) return false;
  const digest = createHmac('sha256', key).update(buf.subarray(0, body)).digest();
  let diff = 0;
  for (let i = 0; i < PEER_TAG_SIZE; i++) diff |= digest[i]! ^ buf[body + i]!;
  return diff === 0;
}

/**
 * A sender epoch: milliseconds since the Unix epoch, and always above the previous one. A restarted
 * reflector so starts above its old epoch (clocks permitting: see docs/security.md), and a wrapped
 * sequence moves to the next epoch.
 */
export function nextPeerEpoch(previous = 0): number {
  return Math.max(Date.now(), previous + 1);
}
