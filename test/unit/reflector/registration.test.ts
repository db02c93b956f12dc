import { describe, expect, it } from 'vitest';
import { handleControlDatagram } from '../../../reflector/registration.js';
import { Sessions } from '../../../reflector/sessions.js';
import { ControlType, decodeControlDatagram, encodeControlDatagram, verifyControlTag } from '../../../protocol/wire/control-datagram.js';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';

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

  it('a REGISTER takes its source from any other session bound to it (a client failing over back to the same reflector under a new id)', () => {
    const { sessions, s } = setup();
    handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 1n }, s.key), 0, from, 0);
    const again = sessions.create({ role: 'sendrecv' }, 0);
    const out = handleControlDatagram(sessions, encodeControlDatagram({ type: ControlType.Register, clientId: again.id, nonce: 1n }, again.key), 0, from, 0);
    expect(out).toMatchObject({ kind: 'ack', changed: true });
    expect(again.endpoints[0]).toEqual(from);
    expect(s.endpoints[0]).toBeUndefined();
    // Only the new session is in the forwarding table: nothing is sent twice to that source or back to it.
    expect(sessions.forwardingClients().map((c) => c.id)).toEqual([again.id]);
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

  it('a migration target starts from the nonces the old reflector accepted: a REGISTER captured before cannot be replayed there', () => {
    const { sessions, s } = setup();
    const captured = encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 1000n }, s.key);
    expect(handleControlDatagram(sessions, captured, 0, from, 0).kind).toBe('ack');
    // The target reserves the client with the key and the nonces of the admit (reflector.admit).
    const target = new Sessions();
    const reserved = target.create({ id: s.id, keyText: s.keyText, role: s.role, lastNonce: [...s.lastNonce] }, 0);
    const attacker = { address: '203.0.113.9', port: 6666 };
    expect(handleControlDatagram(target, captured, 0, attacker, 0)).toMatchObject({ kind: 'drop', reason: 'auth' });
    expect(reserved.state).toBe('reserved');
    expect(reserved.endpoints[0]).toBeUndefined();
    // Without the carried nonces the same replay would have bound the attacker (what the floor prevents).
    const naive = new Sessions();
    const naiveSession = naive.create({ id: s.id, keyText: s.keyText, role: s.role }, 0);
    expect(handleControlDatagram(naive, captured, 0, attacker, 0).kind).toBe('ack');
    expect(naiveSession.endpoints[0]).toEqual(attacker);
    // The client's own next REGISTER binds it at the target.
    const next = encodeControlDatagram({ type: ControlType.Register, clientId: s.id, nonce: 1001n }, s.key);
    expect(handleControlDatagram(target, next, 0, from, 0)).toMatchObject({ kind: 'ack', activated: true });
    expect(reserved.endpoints[0]).toEqual(from);
  });

  it('property: only a REGISTER with the session key and a fresh nonce ever moves the stream', () => {
    const step = fc.record({
      type: fc.constantFrom(ControlType.Register, ControlType.Keepalive),
      nonce: fc.bigInt({ min: 0n, max: 50n }),
      keyed: fc.boolean(),
      source: fc.integer({ min: 0, max: 3 }),
      portIndex: fc.constantFrom<0 | 1>(0, 1),
      /** Replay an earlier datagram (from any source) instead of making a new one. */
      replay: fc.option(fc.nat(), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const { sessions, s } = setup();
        const wrongKey = Buffer.alloc(32, 1);
        const sent: { buf: Buffer; keyed: boolean; type: number; nonce: bigint; portIndex: 0 | 1 }[] = [];
        const accepted: [bigint, bigint] = [0n, 0n];
        const expected: ({ address: string; port: number } | undefined)[] = [undefined, undefined];
        for (const st of steps) {
          let d: (typeof sent)[number];
          if (st.replay !== undefined && sent.length > 0) d = sent[st.replay % sent.length]!;
          else {
            const buf = encodeControlDatagram({ type: st.type, clientId: s.id, nonce: st.nonce }, st.keyed ? s.key : wrongKey);
            d = { buf, keyed: st.keyed, type: st.type, nonce: st.nonce, portIndex: st.portIndex };
            sent.push(d);
          }
          const src = { address: `198.51.100.${st.source}`, port: 40000 + st.source };
          const out = handleControlDatagram(sessions, d.buf, d.portIndex, src, 0);
          const fresh = d.keyed && d.nonce > accepted[d.portIndex];
          expect(out.kind).toBe(fresh ? 'ack' : 'drop');
          if (fresh) {
            accepted[d.portIndex] = d.nonce;
            if (d.type === ControlType.Register) expected[d.portIndex] = src;
          }
          expect(s.endpoints[0]).toEqual(expected[0]);
          expect(s.endpoints[1]).toEqual(expected[1]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
