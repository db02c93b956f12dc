// The 16-byte header a reflector puts in front of a client's payload when it copies the payload to a
// peer reflector (docs/protocol.md §2.3). The origin client id lets the receiving reflector skip that
// client while it is being migrated and briefly known to two reflectors. Functions here work in place
// on caller-owned buffers so the hot path allocates nothing.
import { CLIENT_ID_BYTES } from './client-id.js';

export const PEER_MAGIC = 0x5250; // "RP"
export const PEER_VERSION = 1;
export const PEER_HEADER_SIZE = 16;
export const PEER_FLAG_TAGGED = 0x01;

// A tagged datagram (docs/protocol.md §2.4; a reflector with a mesh key sends only these, and accepts
// only these from peers): the header with PEER_FLAG_TAGGED, the sender's 64-bit epoch, the payload,
// and a 16-byte tag, HMAC-SHA256 truncated, over everything before it.
//   0 header (16) | 16 epoch (8, big-endian) | 24 payload | len-16 tag (16)
export const PEER_EPOCH_OFFSET = PEER_HEADER_SIZE;
export const PEER_EPOCH_SIZE = 8;
/** Where the payload starts in a tagged datagram. */
export const PEER_TAGGED_HEADER_SIZE = PEER_HEADER_SIZE + PEER_EPOCH_SIZE;
export const PEER_TAG_SIZE = 16;
/** Bytes a tagged peer copy adds to the client's payload. */
export const PEER_TAGGED_OVERHEAD = PEER_TAGGED_HEADER_SIZE + PEER_TAG_SIZE;

/** Writes the header at offset 0 of `target`; the payload goes at PEER_HEADER_SIZE. */
export function writePeerHeader(target: Buffer, originClientId: number, sequence: number): void {
  target.writeUInt16BE(PEER_MAGIC, 0);
  target.writeUInt8(PEER_VERSION, 2);
  target.writeUInt8(0, 3);
  target.writeUIntBE(originClientId, 4, CLIENT_ID_BYTES);
  target.writeUInt16BE(0, 10);
  target.writeUInt32BE(sequence >>> 0, 12);
}

/** Writes a tagged header and the epoch (an integer below 2^53) at offset 0; the payload goes at PEER_TAGGED_HEADER_SIZE. */
export function writeTaggedPeerHeader(target: Buffer, originClientId: number, sequence: number, epoch: number): void {
  writePeerHeader(target, originClientId, sequence);
  target[3] = PEER_FLAG_TAGGED;
  target.writeUInt32BE(Math.floor(epoch / 0x1_0000_0000), PEER_EPOCH_OFFSET);
  target.writeUInt32BE(epoch >>> 0, PEER_EPOCH_OFFSET + 4);
}

/** The epoch of a tagged datagram (exact below 2^53). */
export function readPeerEpoch(buf: Buffer): number {
  return buf.readUInt32BE(PEER_EPOCH_OFFSET) * 0x1_0000_0000 + buf.readUInt32BE(PEER_EPOCH_OFFSET + 4);
}

/** True when `buf` holds a well-formed, untagged version-1 peer header. */
export function isValidPeerHeader(buf: Buffer): boolean {
  return (
    buf.length >= PEER_HEADER_SIZE &&
    buf.readUInt16BE(0) === PEER_MAGIC &&
    buf[2] === PEER_VERSION &&
    (buf[3]! & PEER_FLAG_TAGGED) === 0
  );
}

export function readPeerOriginClientId(buf: Buffer): number {
  return buf.readUIntBE(4, CLIENT_ID_BYTES);
}

export function readPeerSequence(buf: Buffer): number {
  return buf.readUInt32BE(12);
}
