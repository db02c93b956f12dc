import { describe, expect, it } from 'vitest';
import { handleControlDatagram } from '../../../reflector/registration.js';
import { Sessions } from '../../../reflector/sessions.js';
import { ControlType, decodeControlDatagram, encodeControlDatagram, verifyControlTag } from '../../../reflector/wire/control-datagram.js';
import { randomBytes } from 'node:crypto';

const from = { address: '198.51.100.7', port: 40000 };

function setup() {
  const sessions = new Sessions();
  const s = sessions.create({ role: 'sendrecv' }, 0);
  return { sessions, s };
}

describe('handleControlDatagram', () => {
  it('binds the source on REGISTER, activates the session and acks with the echoed nonce', () => {
    const { sessions, s } = setup();
    const out = handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 5n }, s.key), 0, from, 10);
    expect(out).toMatchObject({ kind: 'ack', changed: true, activated: true });
    expect(s.state).toBe('active');
    expect(s.endpoints[0]).toEqual(from);
    if (out.kind !== 'ack') throw new Error('no ack');
    expect(decodeControlDatagram(out.reply)).toEqual({ type: ControlType.RegisterAck, clientId: s.id, nonce: 5n });
    expect(verifyControlTag(out.reply, s.key)).toBe(true);
  });

  it('rebinds on a REGISTER from a new address (NAT rebinding) but not on KEEPALIVE', () => {
    const { sessions, s } = setup();
    handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 1n }, s.key), 0, from, 0);
    const moved = { address: '198.51.100.7', port: 40001 };
    const ka = handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Keepalive, clientId: s.id, nonce: 2n }, s.key), 0, moved, 0);
    expect(ka).toMatchObject({ kind: 'ack', changed: false });
    expect(s.endpoints[0]).toEqual(from);
    const re = handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 3n }, s.key), 0, moved, 0);
    expect(re).toMatchObject({ kind: 'ack', changed: true, activated: false });
    expect(s.endpoints[0]).toEqual(moved);
  });

  it('drops replays, forged tags and malformed datagrams, refuses unknown clients', () => {
    const { sessions, s } = setup();
    const reg = encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 9n }, s.key);
    handleControlDatagram(sessions, reg, 0, from, 0);
    expect(handleControlDatagram(sessions, reg, 0, { address: '203.0.113.1', port: 1 }, 0)).toMatchObject({ kind: 'drop', reason: 'auth' });
    const forged = encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 10n }, randomBytes(32));
    expect(handleControlDatagram(sessions, forged, 0, from, 0)).toMatchObject({ kind: 'drop', reason: 'auth' });
    expect(handleControlDatagram(sessions, reg.subarray(0, 30), 0, from, 0)).toMatchObject({ kind: 'drop', reason: 'malformed' });
    const ack = encodeControlDatagram({ type: ControlType.RegisterAck, clientId: s.id, nonce: 11n }, s.key);
    expect(handleControlDatagram(sessions, ack, 0, from, 0)).toMatchObject({ kind: 'drop', reason: 'malformed' });
    const unknown = handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Keepalive, clientId: 1, nonce: 1n }, s.key), 0, from, 0);
    expect(unknown.kind).toBe('refuse');
    if (unknown.kind === 'refuse') expect(decodeControlDatagram(unknown.reply).type).toBe(ControlType.Refused);
    expect(s.endpoints[0]).toEqual(from);
  });

  it('keeps nonces per port index', () => {
    const { sessions, s } = setup();
    expect(handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 7n }, s.key), 0, from, 0).kind).toBe('ack');
    expect(handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 7n }, s.key), 1, { ...from, port: 40002 }, 0).kind).toBe('ack');
    expect(s.endpoints[1]).toEqual({ ...from, port: 40002 });
  });
});
