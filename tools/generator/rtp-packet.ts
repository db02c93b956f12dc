// The generator's datagram: a real RTP packet (RFC 3550, version 2) whose header extension carries what
// the analyzer needs beyond RTP: the send time and the sender's client id. Being valid RTP, it goes
// through the mesh (and through any RTP-aware tool) like a media stream would. Encoding writes into a
// caller-owned buffer and decoding fills a caller-owned object, so the send and receive paths allocate
// nothing per datagram beyond the send time's bigint.

/** RTP fixed header (12 bytes) + extension header (4) + extension data (16). */
export const GENERATOR_HEADER_SIZE = 32;
/** The "defined by profile" field of the extension header: "RM" for reflector-mesh. */
export const GENERATOR_EXTENSION_PROFILE = 0x524d;
const EXTENSION_WORDS = 4;
/** A dynamic payload type (RFC 3551 leaves 96-127 to the application). */
export const GENERATOR_PAYLOAD_TYPE = 96;
/** The RTP timestamp clock of the generator: 90 kHz, as for video (RFC 3551). */
export const GENERATOR_CLOCK_RATE = 90_000;

export interface GeneratorPacket {
  /** Synchronisation source: random per sender, the analyzer's key for a source. */
  ssrc: number;
  /** 16-bit RTP sequence number (wraps). */
  sequence: number;
  /** 32-bit RTP timestamp at GENERATOR_CLOCK_RATE (wraps). */
  rtpTimestamp: number;
  /** process.hrtime.bigint() at the sender: CLOCK_MONOTONIC, comparable between processes of one host. */
  sentNs: bigint;
  /** The sender's client id (48 bits) when it sent the packet; changes after a failover. */
  clientId: number;
}

/** A reusable, zeroed packet object for decodeGeneratorPacket. */
export function emptyGeneratorPacket(): GeneratorPacket {
  return { ssrc: 0, sequence: 0, rtpTimestamp: 0, sentNs: 0n, clientId: 0 };
}

/**
 * Writes the header of `packet` at the start of `target` (at least GENERATOR_HEADER_SIZE bytes); the
 * rest of `target` is the payload and is left as it is.
 */
export function encodeGeneratorPacket(target: Buffer, packet: GeneratorPacket): void {
  target[0] = 0x90; // V=2, P=0, X=1, CC=0
  target[1] = GENERATOR_PAYLOAD_TYPE; // M=0
  target.writeUInt16BE(packet.sequence & 0xffff, 2);
  target.writeUInt32BE(packet.rtpTimestamp >>> 0, 4);
  target.writeUInt32BE(packet.ssrc >>> 0, 8);
  target.writeUInt16BE(GENERATOR_EXTENSION_PROFILE, 12);
  target.writeUInt16BE(EXTENSION_WORDS, 14);
  target.writeBigUInt64BE(packet.sentNs, 16);
  target.writeUInt16BE(0, 24);
  target.writeUIntBE(packet.clientId, 26, 6);
}

/**
 * Reads a generator packet into `into`; returns false (and leaves `into` unspecified) for anything else:
 * another application's RTP, RTCP, or garbage.
 */
export function decodeGeneratorPacket(buf: Buffer, into: GeneratorPacket): boolean {
  if (buf.length < GENERATOR_HEADER_SIZE) return false;
  const first = buf[0]!;
  // Version 2, extension bit set, no CSRCs (the generator never mixes).
  if ((first & 0xc0) !== 0x80 || (first & 0x10) === 0 || (first & 0x0f) !== 0) return false;
  if (buf.readUInt16BE(12) !== GENERATOR_EXTENSION_PROFILE || buf.readUInt16BE(14) < EXTENSION_WORDS) return false;
  into.sequence = buf.readUInt16BE(2);
  into.rtpTimestamp = buf.readUInt32BE(4);
  into.ssrc = buf.readUInt32BE(8);
  into.sentNs = buf.readBigUInt64BE(16);
  into.clientId = buf.readUIntBE(26, 6);
  return true;
}

/** The RTP timestamp of a moment `elapsedNs` after a stream's start, from a random initial value. */
export function rtpTimestampAt(initial: number, elapsedNs: bigint): number {
  return (initial + Number((elapsedNs * BigInt(GENERATOR_CLOCK_RATE)) / 1_000_000_000n)) >>> 0;
}
