// Authenticated peers with real reflector processes (docs/security.md "Authenticated peers"), on both
// data planes: two reflectors with the same mesh key forward each other's clients; a fake peer (a UDP
// socket the mesh knows as a peer, introduced by a signed hello) sends forged, tampered, misattributed
// and replayed datagrams, which are dropped and counted with nothing delivered; unsigned or wrongly
// signed peer requests are refused; a reflector restarted (new epoch, sequence from 0) is accepted again.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TIMINGS, meshMemberSpec, reflectorPorts, startReflector, stopAll, TEST_MESH_KEY, waitForFullMesh, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';
import { closeClients, joinClients, numberedPayload, sendRounds, TestClient } from '../../support/mesh-traffic.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import { peerEndpointKey, writePeerTag } from '../../../reflector/security/peer-tag.js';
import { peerControlKey, signPeerRequest } from '../../../protocol/security/peer-control.js';
import { PEER_TAG_SIZE, PEER_TAGGED_HEADER_SIZE, PEER_TAGGED_OVERHEAD, writeTaggedPeerHeader } from '../../../protocol/wire/peer-header.js';

const MESH_KEY = Buffer.from(TEST_MESH_KEY, 'base64');
const WRONG_KEY = Buffer.alloc(32, 0xee);

/** A tagged peer datagram as the reflector at address:port would send it, made with `key`. */
function peerDatagram(key: Buffer, address: string, port: number, sequence: number, epoch: number, body: Buffer): Buffer {
  const buf = Buffer.alloc(body.length + PEER_TAGGED_OVERHEAD);
  writeTaggedPeerHeader(buf, 0x777, sequence, epoch);
  body.copy(buf, PEER_TAGGED_HEADER_SIZE);
  writePeerTag(buf, buf.length - PEER_TAG_SIZE, peerEndpointKey(key, address, port));
  return buf;
}

async function dropped(r: ReflectorProcess): Promise<Record<string, number>> {
  return (await r.status()).counters.dropped;
}

describe.each(['js', 'native'] as const)('authenticated peers, %s data plane', (dataPlane) => {
  const host = dataPlane === 'js' ? 10 : 20;
  const addr = (i: number) => `127.0.9.${host + i}`;
  // The fake peer's ports, asked of the OS in beforeAll.
  const FAKE = { address: addr(5), dataPort: 0, controlPort: 0 };
  // A long peer timeout: the fake peer answers no keep-alive, and must stay a peer for the test.
  const spec = (i: number, join?: string) => meshMemberSpec({ size: 3, addressPrefix: '127.0.9.', firstHost: host, common: { dataPlane, peerTimeout: '15s' } }, i, join);
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  let fake: dgram.Socket;

  beforeAll(async () => {
    Object.assign(FAKE, await reflectorPorts());
    const a = await startReflector(await spec(0));
    const b = await startReflector(await spec(1, a.controlAddress));
    mesh = [a, b];
    await waitForFullMesh(mesh);
    clients = await joinClients(2, (i) => ({ join: mesh[i]!.controlAddress, bindAddress: addr(6 + i) }));
    fake = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => fake.bind(FAKE.dataPort, FAKE.address, resolve));
  });

  afterAll(async () => {
    closeClients(clients);
    fake?.close();
    await stopAll(mesh);
  });

  it('forwards between two reflectors with the same key, with no peer datagram dropped', async () => {
    expect(clients.map((c) => c.client.reflector?.id).sort()).toEqual(mesh.map((r) => r.id).sort());
    await sendRounds(clients, 0, 100, 2);
    await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index) === 100)), { timeoutMs: 5000, what: 'all traffic' });
    for (const r of mesh) expect(await dropped(r)).toMatchObject({ bad_peer_tag: 0, replay: 0, malformed: 0 });
    const sentToPeers = await Promise.all(mesh.map(async (r) => (await r.status()).counters.datagramsOut.peer));
    expect(sentToPeers).toEqual([100, 100]);
  });

  it('refuses peer requests that are unsigned, signed with another key, or replayed', async () => {
    const [a] = mesh;
    const hello = { reflector: { id: 'intruder', address: FAKE.address, dataPort: FAKE.dataPort, controlPort: FAKE.controlPort, rtp: false }, clients: 0, introduce: true };
    const unsigned = await a!.request('/v1/peers/hello', { body: hello, token: null });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.text()).toMatch(/no peer signature/);
    const post = (key: Buffer, text: string, authorization?: string) =>
      fetch(a!.url('/v1/peers/hello'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: authorization ?? signPeerRequest(peerControlKey(key), 'POST', '/v1/peers/hello', text) },
        body: text,
      });
    const wrong = await post(WRONG_KEY, JSON.stringify(hello));
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toMatch(/does not verify/);
    // Signed for one body, sent with another.
    const altered = await post(MESH_KEY, JSON.stringify({ ...hello, clients: 5 }), signPeerRequest(peerControlKey(MESH_KEY), 'POST', '/v1/peers/hello', JSON.stringify(hello)));
    expect(altered.status).toBe(401);
    const peers = await a!.json<{ peers: { id: string }[] }>('/v1/peers');
    expect(peers.peers.map((p) => p.id)).not.toContain('intruder');
    // Signed properly: the fake peer joins (and is introduced to b), once; the same request again is a replay.
    const text = JSON.stringify({ ...hello, reflector: { ...hello.reflector, id: 'fake' } });
    const signed = signPeerRequest(peerControlKey(MESH_KEY), 'POST', '/v1/peers/hello', text);
    const ok = await post(MESH_KEY, text, signed);
    expect(ok.status).toBe(200);
    const again = await post(MESH_KEY, text, signed);
    expect(again.status).toBe(401);
    expect(await again.text()).toMatch(/seen before/);
    await waitFor(async () => (await Promise.all(mesh.map((r) => r.json<{ peers: { id: string }[] }>('/v1/peers')))).every((l) => l.peers.some((p) => p.id === 'fake')), {
      timeoutMs: 5000,
      what: 'the fake peer known to both reflectors',
    });
  });

  it('drops forged, tampered, misattributed and replayed peer datagrams, counting them, delivering nothing of them', async () => {
    const [a, b] = mesh;
    const before = await Promise.all(mesh.map(dropped));
    const send = (datagram: Buffer, to: ReflectorProcess) =>
      new Promise<void>((resolve, reject) => fake.send(datagram, to.spec.dataPort, to.spec.address, (err) => (err ? reject(err) : resolve())));
    const epoch = Date.now();
    // Authentic: from the fake peer, with the mesh key: delivered to a's client (sender index 900).
    const good = peerDatagram(MESH_KEY, FAKE.address, FAKE.dataPort, 1, epoch, numberedPayload(900, 1));
    await send(good, a!);
    await waitFor(() => clients.every((c) => c.countFrom(900) === 1 || c.client.reflector?.id !== a!.id), { timeoutMs: 3000, what: 'the authentic datagram' });
    await send(peerDatagram(WRONG_KEY, FAKE.address, FAKE.dataPort, 2, epoch, numberedPayload(901, 2)), a!); // forged: another key
    const tampered = peerDatagram(MESH_KEY, FAKE.address, FAKE.dataPort, 3, epoch, numberedPayload(902, 3));
    tampered[PEER_TAGGED_HEADER_SIZE + 9]! ^= 0x04;
    await send(tampered, a!);
    // Made with a's own key (as if captured on a's link and resent from the fake peer's address).
    await send(peerDatagram(MESH_KEY, a!.spec.address, a!.spec.dataPort, 4, epoch, numberedPayload(903, 4)), b!);
    await send(good, a!); // replayed
    await send(good, a!);
    await waitFor(async () => (await dropped(a!)).bad_peer_tag! - before[0]!.bad_peer_tag! === 2 && (await dropped(a!)).replay! - before[0]!.replay! === 2, {
      timeoutMs: 3000,
      what: 'drops counted at a',
    });
    await waitFor(async () => (await dropped(b!)).bad_peer_tag! - before[1]!.bad_peer_tag! === 1, { timeoutMs: 3000, what: 'the misattributed datagram dropped at b' });
    await new Promise((r) => setTimeout(r, 200));
    for (const c of clients) {
      expect(c.countFrom(900)).toBe(c.client.reflector?.id === a!.id ? 1 : 0);
      expect(c.duplicatesFrom(900)).toBe(0);
      for (const sender of [901, 902, 903]) expect(c.countFrom(sender)).toBe(0);
    }
    // The same counts in Prometheus.
    const metrics = parsePrometheusText(await (await a!.request('/metrics')).text());
    expect(sampleValue(metrics, 'rmesh_datagrams_dropped_total', { reason: 'bad_peer_tag' })).toBe((await dropped(a!)).bad_peer_tag);
    expect(sampleValue(metrics, 'rmesh_datagrams_dropped_total', { reason: 'replay' })).toBe((await dropped(a!)).replay);
  });

  it('accepts a peer restarted with the same id and address (a new epoch, its sequence from 0)', async () => {
    const [a, b] = mesh;
    // b has sent a's client 100+ datagrams: a's window for b is well above 0.
    await b!.kill('SIGKILL');
    const restarted = await startReflector(b!.spec); // the same spec: the same id, address and ports
    mesh[1] = restarted;
    await waitForFullMesh(mesh);
    const [late] = await joinClients(1, () => ({ join: restarted.controlAddress, bindAddress: addr(8) }));
    try {
      expect(late!.client.reflector?.id).toBe(restarted.id);
      const atA = clients.find((c) => c.client.reflector?.id === a!.id)!;
      const probe = new TestClient(50, late!.client); // sender index 50: not one of the first clients'
      for (let seq = 0; seq < 20; seq++) probe.send(seq);
      await waitFor(() => atA.countFrom(50) === 20, { timeoutMs: 5000, what: "the restarted reflector's datagrams at a" });
      expect((await dropped(a!)).replay).toBe(2); // only the two replays of the previous test
    } finally {
      late!.client.close();
    }
  });
});

describe('an open mesh (--open-mesh, no key)', () => {
  const mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('forwards with untagged peer copies and unsigned peer requests', async () => {
    const spec = async (i: number, join?: string) => ({ address: `127.0.9.${40 + i}`, ...(await reflectorPorts()), meshKey: null, ...FAST_TIMINGS, ...(join ? { join } : {}) });
    const a = await startReflector(await spec(0));
    mesh.push(a);
    mesh.push(await startReflector(await spec(1, a.controlAddress)));
    await waitForFullMesh(mesh);
    clients = await joinClients(2, (i) => ({ join: mesh[i]!.controlAddress, bindAddress: `127.0.9.${46 + i}` }));
    expect(clients.map((c) => c.client.reflector?.id).sort()).toEqual(mesh.map((r) => r.id).sort());
    await sendRounds(clients, 0, 50, 2);
    await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index) === 50)), { timeoutMs: 5000, what: 'all traffic' });
    for (const r of mesh) {
      const { counters } = await r.status();
      expect(counters.dropped).toMatchObject({ bad_peer_tag: 0, replay: 0, malformed: 0 });
      expect(counters.bytesOut.peer).toBe(50 * (12 + 16)); // the 16-byte untagged header, no epoch, no tag
    }
  });
});
