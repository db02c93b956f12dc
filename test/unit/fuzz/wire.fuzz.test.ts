// The wire codecs fed arbitrary bytes and strings (fast-check): nothing but the codec's own error
// escapes, what decodes is in range and re-encodes to the same bytes, a flipped bit never passes the tag
// check, and a control datagram that is not a valid REGISTER/KEEPALIVE of a session leaves every
// session exactly as it was.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_ID_BYTES, formatClientId, parseClientId } from '../../../protocol/wire/client-id.js';
import {
  CONTROL_DATAGRAM_SIZE,
  CONTROL_MAGIC,
  CONTROL_VERSION,
  ControlDatagramError,
  ControlType,
  decodeControlDatagram,
  encodeControlDatagram,
  isControlDatagram,
  verifyControlTag,
} from '../../../protocol/wire/control-datagram.js';
import { PEER_HEADER_SIZE, isValidPeerHeader, readPeerOriginClientId, readPeerSequence, writePeerHeader } from '../../../protocol/wire/peer-header.js';
import { handleControlDatagram } from '../../../reflector/registration.js';
import { Sessions, type Session } from '../../../reflector/sessions.js';

const MAX_ID = 2 ** (8 * CLIENT_ID_BYTES);
const bytes = (maxLength = 80) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const clientId = fc.integer({ min: 0, max: MAX_ID - 1 });
const nonce = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const key = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));

/** Bytes that look like a control datagram often enough to get past the early checks. */
const controlish = fc.oneof(
  bytes(),
  fc.record({ type: fc.integer({ min: 0, max: 255 }), version: fc.constantFrom(CONTROL_VERSION, CONTROL_VERSION, 0, 2, 255), rest: bytes(40), size: fc.constantFrom(CONTROL_DATAGRAM_SIZE, CONTROL_DATAGRAM_SIZE, 35, 37) }).map(({ type, version, rest, size }) => {
    const buf = Buffer.alloc(size);
    rest.copy(buf, 0);
    buf.writeUInt32BE(CONTROL_MAGIC, 0);
    buf[4] = version;
    buf[5] = type;
    return buf;
  }),
);

describe('control datagrams, for any bytes', () => {
  it('decode to an in-range datagram or throw ControlDatagramError with a message', () => {
    fc.assert(
      fc.property(controlish, (buf) => {
        let decoded;
        try {
          decoded = decodeControlDatagram(buf);
        } catch (err) {
          expect(err).toBeInstanceOf(ControlDatagramError);
          expect((err as Error).message).toMatch(/^control datagram /);
          return;
        }
        expect(buf.length).toBe(CONTROL_DATAGRAM_SIZE);
        expect(isControlDatagram(buf)).toBe(true);
        expect(Object.values(ControlType)).toContain(decoded.type);
        expect(decoded.clientId).toBeGreaterThanOrEqual(0);
        expect(decoded.clientId).toBeLessThan(MAX_ID);
        // The fields re-encode to the same first 20 bytes (the tag is not decoded).
        const again = encodeControlDatagram(decoded, Buffer.alloc(32));
        expect(again.subarray(0, 20)).toEqual(buf.subarray(0, 20));
      }),
      { numRuns: 1000 },
    );
  });

  it('never pass the tag check of a key they were not tagged with, and the check never throws', () => {
    fc.assert(
      fc.property(controlish, key, (buf, k) => {
        expect(verifyControlTag(buf, k)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('fail the tag check after any one bit flips', () => {
    fc.assert(
      fc.property(fc.constantFrom(ControlType.Register, ControlType.Keepalive, ControlType.RegisterAck), clientId, nonce, key, fc.nat(CONTROL_DATAGRAM_SIZE * 8 - 1), (type, id, n, k, bit) => {
        const buf = encodeControlDatagram({ type, clientId: id, nonce: n }, k);
        expect(verifyControlTag(buf, k)).toBe(true);
        buf[bit >> 3]! ^= 1 << (bit & 7);
        expect(verifyControlTag(buf, k)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('the reflector\'s answer to a control datagram, for any bytes', () => {
  function snapshot(s: Session) {
    return { state: s.state, endpoints: s.endpoints.map((e) => (e ? { ...e } : e)), lastNonce: [...s.lastNonce], lastControlMs: s.lastControlMs };
  }

  it('drops or refuses garbage with a reason, leaving every session as it was', () => {
    const sessions = new Sessions();
    const known = [sessions.create({ role: 'sendrecv' }, 1000), sessions.create({ role: 'recvonly' }, 1000)];
    known[1]!.state = 'active';
    known[1]!.endpoints[0] = { address: '127.0.9.2', port: 50100 };
    known[1]!.lastNonce[0] = 10n;
    // Bytes with a known client's id in them, so the session lookup and the tag check are reached.
    const aimed = fc.tuple(controlish, fc.constantFrom(...known.map((s) => s.id))).map(([buf, id]) => {
      if (buf.length >= 12) buf.writeUIntBE(id, 6, CLIENT_ID_BYTES);
      return buf;
    });
    fc.assert(
      fc.property(fc.oneof(controlish, aimed), fc.constantFrom<0 | 1>(0, 1), (buf, portIndex) => {
        const before = known.map(snapshot);
        const outcome = handleControlDatagram(sessions, buf, portIndex, { address: '127.0.9.66', port: 50666 }, 5000);
        expect(['drop', 'refuse']).toContain(outcome.kind);
        if (outcome.kind === 'drop') expect(outcome.detail.length).toBeGreaterThan(0);
        if (outcome.kind === 'refuse') {
          expect(sessions.has(outcome.clientId)).toBe(false);
          // The refusal is no bigger than what provoked it: no amplification.
          expect(outcome.reply.length).toBeLessThanOrEqual(buf.length);
        }
        expect(known.map(snapshot)).toEqual(before);
        expect(sessions.all()).toHaveLength(2);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('peer headers, for any bytes', () => {
  it('are valid or not without throwing, and a valid one reads in range', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(40), fc.tuple(bytes(40), fc.nat(255)).map(([b, flags]) => {
        const buf = Buffer.alloc(Math.max(PEER_HEADER_SIZE, b.length));
        b.copy(buf);
        writePeerHeader(buf, 1, 2);
        buf[3] = flags;
        return buf;
      })), (buf) => {
        if (!isValidPeerHeader(buf)) return;
        expect(readPeerOriginClientId(buf)).toBeLessThan(MAX_ID);
        expect(readPeerSequence(buf)).toBeLessThan(2 ** 32);
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trip origin and sequence', () => {
    fc.assert(
      fc.property(clientId, fc.integer({ min: -(2 ** 32), max: 2 ** 33 }), (id, sequence) => {
        const buf = Buffer.alloc(PEER_HEADER_SIZE + 4);
        writePeerHeader(buf, id, sequence);
        expect(isValidPeerHeader(buf)).toBe(true);
        expect(readPeerOriginClientId(buf)).toBe(id);
        expect(readPeerSequence(buf)).toBe(sequence >>> 0);
      }),
    );
  });
});

describe('client ids, for any string', () => {
  it('parse only as exactly 12 lower-case hex digits, and then round-trip', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 20 }), fc.stringMatching(/^[0-9a-fA-F]{10,14}$/), clientId.map(formatClientId)), (text) => {
        const id = parseClientId(text);
        if (id === undefined) {
          expect(/^[0-9a-f]{12}$/.test(text)).toBe(false);
          return;
        }
        expect(id).toBeGreaterThanOrEqual(0);
        expect(id).toBeLessThan(MAX_ID);
        expect(formatClientId(id)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});
