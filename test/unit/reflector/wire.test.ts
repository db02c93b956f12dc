import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatClientId, parseClientId, randomClientId } from '../../../protocol/wire/client-id.js';
import {
  CONTROL_DATAGRAM_SIZE,
  ControlDatagramError,
  ControlType,
  decodeControlDatagram,
  encodeControlDatagram,
  isControlDatagram,
  verifyControlTag,
} from '../../../protocol/wire/control-datagram.js';
import {
  PEER_HEADER_SIZE,
  isValidPeerHeader,
  readPeerOriginClientId,
  readPeerSequence,
  writePeerHeader,
} from '../../../protocol/wire/peer-header.js';

describe('client ids', () => {
  it('round-trip through their 12-digit hex form', () => {
    for (let i = 0; i < 1000; i++) {
      const id = randomClientId();
      expect(id).toBeLessThan(2 ** 48);
      expect(parseClientId(formatClientId(id))).toBe(id);
    }
    expect(formatClientId(0xff)).toBe('0000000000ff');
  });

  it('reject anything that is not 12 lower-case hex digits', () => {
    for (const bad of ['', 'ff', '0000000000FF', '0000000000fg', '0000000000fff']) expect(parseClientId(bad)).toBeUndefined();
  });
});

describe('control datagrams', () => {
  const key = randomBytes(32);

  it('encode to 36 bytes that decode to the same fields and verify with the key', () => {
    const datagram = { type: ControlType.Register, clientId: 0x0a1b2c3d4e5f, nonce: 1_700_000_000_123n };
    const buf = encodeControlDatagram(datagram, key);
    expect(buf.length).toBe(CONTROL_DATAGRAM_SIZE);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('RMSH');
    expect(isControlDatagram(buf)).toBe(true);
    expect(decodeControlDatagram(buf)).toEqual(datagram);
    expect(verifyControlTag(buf, key)).toBe(true);
  });

  it('fail verification with another key or any flipped bit', () => {
    const buf = encodeControlDatagram({ type: ControlType.Keepalive, clientId: 42, nonce: 7n }, key);
    expect(verifyControlTag(buf, randomBytes(32))).toBe(false);
    for (let bit = 0; bit < CONTROL_DATAGRAM_SIZE * 8; bit++) {
      const flipped = Buffer.from(buf);
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifyControlTag(flipped, key)).toBe(false);
    }
  });

  it('reject wrong sizes, magic, versions and types with a reason', () => {
    const good = encodeControlDatagram({ type: ControlType.Register, clientId: 1, nonce: 1n }, key);
    expect(() => decodeControlDatagram(good.subarray(0, 35))).toThrow(/35 bytes/);
    const badVersion = Buffer.from(good);
    badVersion[4] = 9;
    expect(() => decodeControlDatagram(badVersion)).toThrow(/version 9/);
    const badType = Buffer.from(good);
    badType[5] = 0;
    expect(() => decodeControlDatagram(badType)).toThrow(ControlDatagramError);
    const badMagic = Buffer.from(good);
    badMagic[0] = 0x80;
    expect(isControlDatagram(badMagic)).toBe(false);
    expect(() => decodeControlDatagram(badMagic)).toThrow(/magic/);
  });

  it('never take an RTP packet for a control datagram', () => {
    const rtp = Buffer.alloc(36);
    for (let first = 0x80; first <= 0xbf; first++) {
      rtp[0] = first;
      expect(isControlDatagram(rtp)).toBe(false);
    }
  });
});

describe('peer header', () => {
  it('writes in place and reads back origin and sequence', () => {
    const buf = Buffer.alloc(PEER_HEADER_SIZE + 4);
    writePeerHeader(buf, 0xfedcba987654, 0xffffffff);
    expect(isValidPeerHeader(buf)).toBe(true);
    expect(readPeerOriginClientId(buf)).toBe(0xfedcba987654);
    expect(readPeerSequence(buf)).toBe(0xffffffff);
  });

  it('is invalid when short, with a bad magic or version, or tagged', () => {
    const buf = Buffer.alloc(PEER_HEADER_SIZE);
    writePeerHeader(buf, 1, 1);
    expect(isValidPeerHeader(buf.subarray(0, 15))).toBe(false);
    for (const [offset, value] of [[0, 0], [2, 2], [3, 1]] as const) {
      const bad = Buffer.from(buf);
      bad[offset] = value;
      expect(isValidPeerHeader(bad)).toBe(false);
    }
  });
});
