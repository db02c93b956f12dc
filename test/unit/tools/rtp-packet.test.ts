import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GENERATOR_HEADER_SIZE,
  decodeGeneratorPacket,
  emptyGeneratorPacket,
  encodeGeneratorPacket,
  rtpTimestampAt,
  type GeneratorPacket,
} from '../../../tools/generator/rtp-packet.js';

describe('generator RTP packet', () => {
  it('is valid RTP version 2 with an extension, and round-trips every field', () => {
    fc.assert(
      fc.property(
        fc.record({
          ssrc: fc.integer({ min: 0, max: 0xffffffff }),
          sequence: fc.integer({ min: 0, max: 0xffff }),
          rtpTimestamp: fc.integer({ min: 0, max: 0xffffffff }),
          sentNs: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          clientId: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        }),
        fc.integer({ min: GENERATOR_HEADER_SIZE, max: 1472 }),
        (packet: GeneratorPacket, size) => {
          const buf = Buffer.alloc(size, 0xab);
          encodeGeneratorPacket(buf, packet);
          expect(buf[0]! >> 6).toBe(2); // RTP version
          expect(buf[0]! & 0x10).toBe(0x10); // extension present
          expect(buf.readUInt16BE(14) * 4 + 16).toBe(GENERATOR_HEADER_SIZE); // extension length covers our fields
          const decoded = emptyGeneratorPacket();
          expect(decodeGeneratorPacket(buf, decoded)).toBe(true);
          expect(decoded).toEqual(packet);
          // The payload after the header is untouched.
          if (size > GENERATOR_HEADER_SIZE) expect(buf[GENERATOR_HEADER_SIZE]).toBe(0xab);
        },
      ),
    );
  });

  it('rejects RTCP, other applications’ RTP, control datagrams and short buffers', () => {
    const into = emptyGeneratorPacket();
    const plainRtp = Buffer.alloc(200);
    plainRtp[0] = 0x80; // V=2 without extension
    plainRtp[1] = 96;
    expect(decodeGeneratorPacket(plainRtp, into)).toBe(false);
    const rtcp = Buffer.alloc(64);
    rtcp[0] = 0x81;
    rtcp[1] = 200; // sender report
    expect(decodeGeneratorPacket(rtcp, into)).toBe(false);
    const otherExtension = Buffer.alloc(64);
    encodeGeneratorPacket(otherExtension, emptyGeneratorPacket());
    otherExtension.writeUInt16BE(0xbede, 12); // RFC 8285 one-byte header extensions
    expect(decodeGeneratorPacket(otherExtension, into)).toBe(false);
    expect(decodeGeneratorPacket(Buffer.from('RMSH0123456789012345678901234567890'), into)).toBe(false);
    expect(decodeGeneratorPacket(Buffer.alloc(GENERATOR_HEADER_SIZE - 1, 0x90), into)).toBe(false);
  });

  it('advances the RTP timestamp at 90 kHz and wraps at 2^32', () => {
    expect(rtpTimestampAt(1000, 1_000_000_000n)).toBe(91_000);
    expect(rtpTimestampAt(0xffffffff, 1_000_000_000n / 90_000n + 1n)).toBe(0);
  });
});
