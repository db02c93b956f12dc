// The fixed-size control datagrams a client exchanges with a reflector on its data socket
// (docs/protocol.md §2.2): REGISTER binds the client's UDP address, KEEPALIVE keeps it alive, and the
// reflector answers REGISTER_ACK or REFUSED. Every datagram is tagged with the session key, so a forged
// or replayed one cannot move anybody's stream.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLIENT_ID_BYTES } from './client-id.js';

export const CONTROL_MAGIC = 0x524d5348; // "RMSH"
export const CONTROL_VERSION = 1;
export const CONTROL_DATAGRAM_SIZE = 36;
const TAGGED_BYTES = 20;
const TAG_BYTES = 16;

export const ControlType = {
  Register: 1,
  Keepalive: 2,
  RegisterAck: 3,
  Refused: 4,
} as const;
export type ControlType = (typeof ControlType)[keyof typeof ControlType];

export interface ControlDatagram {
  type: ControlType;
  clientId: number;
  nonce: bigint;
}

/** True when a datagram starts with the control magic; one 32-bit read, cheap enough for the hot path. */
export function isControlDatagram(buf: Buffer): boolean {
  return buf.length >= 4 && buf.readUInt32BE(0) === CONTROL_MAGIC;
}

export class ControlDatagramError extends Error {
  override name = 'ControlDatagramError';
}

/** Encodes and tags a control datagram; REFUSED carries an all-zero tag (the sender may hold no key). */
export function encodeControlDatagram(datagram: ControlDatagram, sessionKey: Buffer | undefined): Buffer {
  const buf = Buffer.alloc(CONTROL_DATAGRAM_SIZE);
  buf.writeUInt32BE(CONTROL_MAGIC, 0);
  buf.writeUInt8(CONTROL_VERSION, 4);
  buf.writeUInt8(datagram.type, 5);
  buf.writeUIntBE(datagram.clientId, 6, CLIENT_ID_BYTES);
  buf.writeBigUInt64BE(datagram.nonce, 12);
  if (datagram.type !== ControlType.Refused) {
    if (!sessionKey) throw new ControlDatagramError('a session key is needed to tag this control datagram');
    controlTag(buf, sessionKey).copy(buf, TAGGED_BYTES);
  }
  return buf;
}

/**
 * Decodes the fields of a control datagram without checking its tag (the key depends on the client id
 * it names). Throws ControlDatagramError saying what is wrong.
 */
export function decodeControlDatagram(buf: Buffer): ControlDatagram {
  if (buf.length !== CONTROL_DATAGRAM_SIZE) {
    throw new ControlDatagramError(`control datagram is ${buf.length} bytes, expected ${CONTROL_DATAGRAM_SIZE}`);
  }
  if (buf.readUInt32BE(0) !== CONTROL_MAGIC) throw new ControlDatagramError('control datagram has a bad magic');
  const version = buf.readUInt8(4);
  if (version !== CONTROL_VERSION) throw new ControlDatagramError(`control datagram version ${version} is not supported`);
  const type = buf.readUInt8(5);
  if (type < ControlType.Register || type > ControlType.Refused) {
    throw new ControlDatagramError(`control datagram type ${type} is unknown`);
  }
  return { type: type as ControlType, clientId: buf.readUIntBE(6, CLIENT_ID_BYTES), nonce: buf.readBigUInt64BE(12) };
}

/** Constant-time check of a control datagram's tag against a session key. */
export function verifyControlTag(buf: Buffer, sessionKey: Buffer): boolean {
  if (buf.length !== CONTROL_DATAGRAM_SIZE) return false;
  return timingSafeEqual(controlTag(buf, sessionKey), buf.subarray(TAGGED_BYTES, TAGGED_BYTES + TAG_BYTES));
}

function controlTag(buf: Buffer, sessionKey: Buffer): Buffer {
  return createHmac('sha256', sessionKey).update(buf.subarray(0, TAGGED_BYTES)).digest().subarray(0, TAG_BYTES);
}
