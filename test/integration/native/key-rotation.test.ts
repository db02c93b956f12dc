// Mesh-key rotation in both data-plane engines (docs/security.md "Rotating the mesh key"), with real
// UDP sockets: through the three steps (accept the new key, sign with it, drop the old one) an engine
// tags its copies with the current key only, delivers copies tagged with any key of its set, and once
// the old key is dropped refuses a copy tagged with it (the attack: a key that leaked or a peer left
// behind). The way out of an open mesh: untagged peer data is delivered while the set accepts it, and
// refused once it does not. A socket on 127.0.9.x plays the peer with the same key derivation.
import { afterEach, describe, expect, it } from 'vitest';
import type { DataPlaneEngine } from '../../../reflector/mirror/engine.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import { OPEN_KEY_SET, parseMeshKeySet, singleKeySet, type MeshKeySet } from '../../../protocol/security/mesh-key-set.js';
import { peerEndpointKey, verifyPeerTag, writePeerTag } from '../../../reflector/security/peer-tag.js';
import { PEER_FLAG_TAGGED, PEER_HEADER_SIZE, PEER_TAG_SIZE, PEER_TAGGED_HEADER_SIZE, PEER_TAGGED_OVERHEAD, writePeerHeader, writeTaggedPeerHeader } from '../../../protocol/wire/peer-header.js';
import { Endpoints, client, payload, startEngine, until, type EngineKind } from './harness.js';

const ENGINE = '127.0.9.30';
const PEER = '127.0.9.31';
const CLIENTS = '127.0.9.32';
const OLD = Buffer.alloc(32, 0x61);
const NEW = Buffer.alloc(32, 0x62);

/** The three steps of a rotation from OLD to NEW, as the key file says them. */
const STEP_1 = set(`current: ${OLD.toString('base64')}\naccept: ${NEW.toString('base64')}`);
const STEP_2 = set(`current: ${NEW.toString('base64')}\naccept: ${OLD.toString('base64')}`);
const STEP_3 = singleKeySet(NEW);

function set(text: string): MeshKeySet {
  return parseMeshKeySet(text, 'test');
}

function tagged(key: Buffer, peerPort: number, sequence: number, epoch: number, body: Buffer): Buffer {
  const buf = Buffer.alloc(body.length + PEER_TAGGED_OVERHEAD);
  writeTaggedPeerHeader(buf, 0x99, sequence, epoch);
  body.copy(buf, PEER_TAGGED_HEADER_SIZE);
  writePeerTag(buf, buf.length - PEER_TAG_SIZE, peerEndpointKey(key, PEER, peerPort));
  return buf;
}

function untagged(sequence: number, body: Buffer): Buffer {
  const buf = Buffer.alloc(body.length + PEER_HEADER_SIZE);
  writePeerHeader(buf, 0x99, sequence);
  body.copy(buf, PEER_HEADER_SIZE);
  return buf;
}

const native = loadNativeMirror();
const kinds: EngineKind[] = native.ok ? ['js', 'native'] : ['js'];

describe.each(kinds)('%s engine rotating its mesh key', (kind) => {
  let nextPort = kind === 'js' ? 53400 : 53500;
  const port = (): number => (nextPort += 2);
  const endpoints = new Endpoints();
  let engine: DataPlaneEngine | undefined;

  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    await endpoints.closeAll();
  });

  async function setup(keys: MeshKeySet) {
    const dataPort = port();
    engine = await startEngine(kind, { address: ENGINE, dataPort, peerAuth: { keys, advertiseAddress: ENGINE } });
    const [a, peer] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(PEER, port())]);
    engine.setTable({ clients: [client(0x10, a.endpoint)], peers: [{ id: 'p', address: PEER, dataPort: peer.endpoint.port }] });
    return { engine, dataPort, a, peer, peerPort: peer.endpoint.port };
  }

  it('tags with the current key, accepts either key during the overlap, and refuses the dropped key after step 3', async () => {
    const { engine, dataPort, a, peer, peerPort } = await setup(singleKeySet(OLD));
    const epoch = Date.now();
    let sequence = 0;
    let delivered = 0;
    /** The peer sends a copy tagged with `key`; resolves when it was delivered or counted as a bad tag. */
    const fromPeer = async (key: Buffer): Promise<'delivered' | 'refused'> => {
      const refusedBefore = engine.counters().dropped.bad_peer_tag;
      await peer.send(tagged(key, peerPort, ++sequence, epoch, payload(sequence)), dataPort, ENGINE);
      await until(() => a.received.length > delivered || engine.counters().dropped.bad_peer_tag > refusedBefore, `copy ${sequence}`);
      if (a.received.length > delivered) {
        delivered = a.received.length;
        return 'delivered';
      }
      return 'refused';
    };
    /** The client sends; the copy the peer gets is tagged with `key` and no other. */
    const copyTaggedWith = async (key: Buffer): Promise<void> => {
      const before = peer.received.length;
      await a.send(payload(1000 + before), dataPort, ENGINE);
      await until(() => peer.received.length === before + 1, 'a copy to the peer');
      const copy = peer.received[before]!.data;
      expect(copy[3]! & PEER_FLAG_TAGGED).toBe(PEER_FLAG_TAGGED);
      expect(verifyPeerTag(copy, copy.length, peerEndpointKey(key, ENGINE, dataPort))).toBe(true);
      expect(verifyPeerTag(copy, copy.length, peerEndpointKey(key.equals(OLD) ? NEW : OLD, ENGINE, dataPort))).toBe(false);
    };

    expect(await fromPeer(NEW)).toBe('refused'); // not yet a key of this mesh
    await copyTaggedWith(OLD);

    engine.setMeshKeys(STEP_1);
    expect(await fromPeer(OLD)).toBe('delivered');
    expect(await fromPeer(NEW)).toBe('delivered');
    await copyTaggedWith(OLD);

    engine.setMeshKeys(STEP_2);
    expect(await fromPeer(NEW)).toBe('delivered');
    expect(await fromPeer(OLD)).toBe('delivered');
    await copyTaggedWith(NEW);

    engine.setMeshKeys(STEP_3);
    expect(await fromPeer(OLD)).toBe('refused'); // the attack: a copy made with the dropped key
    expect(await fromPeer(NEW)).toBe('delivered');
    await copyTaggedWith(NEW);
    // The replay window survived every step: a copy seen before is still a replay.
    await peer.send(tagged(NEW, peerPort, sequence, epoch, payload(sequence)), dataPort, ENGINE);
    await until(() => engine.counters().dropped.replay === 1, 'the replay refused');
    expect(a.received).toHaveLength(delivered);
  });

  it('leaves an open mesh: untagged peer data delivered while accepted, refused once the set enforces', async () => {
    const { engine, dataPort, a, peer, peerPort } = await setup(OPEN_KEY_SET);
    const epoch = Date.now();
    await peer.send(untagged(1, payload(1)), dataPort, ENGINE);
    await until(() => a.received.length === 1, 'untagged delivery in an open mesh');
    await a.send(payload(50), dataPort, ENGINE);
    await until(() => peer.received.length === 1, 'an untagged copy');
    expect(peer.received[0]!.data[3]! & PEER_FLAG_TAGGED).toBe(0);

    engine.setMeshKeys(set(`current: open\naccept: ${NEW.toString('base64')}`)); // step 1
    await peer.send(untagged(2, payload(2)), dataPort, ENGINE);
    await peer.send(tagged(NEW, peerPort, 3, epoch, payload(3)), dataPort, ENGINE);
    await until(() => a.received.length === 3, 'untagged and tagged both delivered');
    await a.send(payload(51), dataPort, ENGINE);
    await until(() => peer.received.length === 2, 'still untagged copies');
    expect(peer.received[1]!.data[3]! & PEER_FLAG_TAGGED).toBe(0);

    engine.setMeshKeys(set(`current: ${NEW.toString('base64')}\naccept: open`)); // step 2
    await peer.send(untagged(4, payload(4)), dataPort, ENGINE);
    await peer.send(tagged(NEW, peerPort, 5, epoch, payload(5)), dataPort, ENGINE);
    await until(() => a.received.length === 5, 'both still delivered');
    await a.send(payload(52), dataPort, ENGINE);
    await until(() => peer.received.length === 3, 'a tagged copy');
    const copy = peer.received[2]!.data;
    expect(verifyPeerTag(copy, copy.length, peerEndpointKey(NEW, ENGINE, dataPort))).toBe(true);

    engine.setMeshKeys(singleKeySet(NEW)); // step 3: enforcing
    await peer.send(untagged(6, payload(6)), dataPort, ENGINE);
    await until(() => engine.counters().dropped.bad_peer_tag === 1, 'untagged refused');
    await peer.send(tagged(NEW, peerPort, 7, epoch, payload(7)), dataPort, ENGINE);
    await until(() => a.received.length === 6, 'tagged delivered');
    expect(a.received.map((r) => r.data.readUInt32BE(4))).toEqual([1, 2, 3, 4, 5, 7]);
  });
});
