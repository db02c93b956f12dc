// The reflector's answer to a control datagram from a client (docs/protocol.md §2.2): checks the
// session, the tag and the nonce, binds the source address on REGISTER, and says what to reply. Pure
// apart from mutating the session it accepts; the caller sends the reply and updates the engine.
import {
  ControlDatagramError,
  ControlType,
  decodeControlDatagram,
  encodeControlDatagram,
  verifyControlTag,
} from '../protocol/wire/control-datagram.js';
import type { Endpoint, PortIndex } from './mirror/engine.js';
import type { Session, Sessions } from './sessions.js';

export type ControlOutcome =
  | { kind: 'drop'; reason: 'malformed' | 'auth'; detail: string }
  | { kind: 'refuse'; reply: Buffer; clientId: number }
  | {
      kind: 'ack';
      reply: Buffer;
      session: Session;
      /** The endpoint or state changed: the forwarding table must be pushed again. */
      changed: boolean;
      /** The session went from reserved to active with this datagram. */
      activated: boolean;
    };

export function handleControlDatagram(
  sessions: Sessions,
  buf: Buffer,
  portIndex: PortIndex,
  from: Endpoint,
  nowMs: number,
): ControlOutcome {
  let datagram;
  try {
    datagram = decodeControlDatagram(buf);
  } catch (err) {
    return { kind: 'drop', reason: 'malformed', detail: err instanceof ControlDatagramError ? err.message : String(err) };
  }
  if (datagram.type !== ControlType.Register && datagram.type !== ControlType.Keepalive) {
    return { kind: 'drop', reason: 'malformed', detail: `control datagram type ${datagram.type} is not sent by clients` };
  }
  const session = sessions.get(datagram.clientId);
  if (!session) {
    const reply = encodeControlDatagram({ type: ControlType.Refused, clientId: datagram.clientId, nonce: datagram.nonce }, undefined);
    return { kind: 'refuse', reply, clientId: datagram.clientId };
  }
  if (!verifyControlTag(buf, session.key)) return { kind: 'drop', reason: 'auth', detail: 'bad tag' };
  if (datagram.nonce <= session.lastNonce[portIndex]) return { kind: 'drop', reason: 'auth', detail: 'old nonce (replay?)' };
  session.lastNonce[portIndex] = datagram.nonce;
  session.lastControlMs = nowMs;
  let changed = false;
  let activated = false;
  if (datagram.type === ControlType.Register && session.state !== 'departing') {
    const old = session.endpoints[portIndex];
    if (!old || old.address !== from.address || old.port !== from.port) {
      session.endpoints[portIndex] = { address: from.address, port: from.port };
      changed = true;
      // One UDP source is one client. A session still bound to it (the same client under its old id,
      // failed over back to this reflector after a stall) gives it up: otherwise both are sent every
      // datagram, the client gets duplicates and hears itself, and the old one never looks idle. Found
      // by the soak test. Unbound, the old session is purged when idle.
      for (const other of sessions.all()) {
        const e = other.endpoints[portIndex];
        if (other !== session && e !== undefined && e.address === from.address && e.port === from.port) other.endpoints[portIndex] = undefined;
      }
    }
    if (session.state === 'reserved') {
      session.state = 'active';
      changed = true;
      activated = true;
    }
  }
  const reply = encodeControlDatagram({ type: ControlType.RegisterAck, clientId: session.id, nonce: datagram.nonce }, session.key);
  return { kind: 'ack', reply, session, changed, activated };
}
