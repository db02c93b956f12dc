// The 16-byte header a reflector puts in front of a client's payload when it copies the payload to a
// peer reflector (docs/protocol.md §2.3). The origin client id lets the receiving reflector skip that
// client while it is being migrated and briefly known to two reflectors. Functions here work in place
// on caller-owned buffers so the hot path allocates nothing.
import { CLIENT_ID_BYTES } from './client-id.js';

export const PEER_MAGIC = 0x5250; // "RP"
export const PEER_VERSION = 1;
export const PEER_HEADER_SIZE = 16;
export const PEER_FLAG_TAGGED = 0x01;

/** Writes the header at offset 0 of `target`; the payload goes at PEER_HEADER_SIZE. */
export function writePeerHeader(target: Buffer, originClientId: number, sequence: number): void {
  target.writeUInt16BE(PEER_MAGIC, 0);
  target.writeUInt8(PEER_VERSION, 2);
  target.writeUInt8(0, 3);
  target.writeUIntBE(originClientId, 4, CLIENT_ID_BYTES);
  target.writeUInt16BE(0, 10);
  target.writeUInt32BE(sequence >>> 0, 12);
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
