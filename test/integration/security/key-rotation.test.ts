// Mesh-key rotation with real reflector processes and real UDP clients (docs/security.md "Rotating the
// mesh key"), on both data planes. Each reflector reads its key file (--mesh-key-file); the test edits
// the files as an operator would, one step at a time on every reflector (SIGHUP makes each read it at
// once, and the test waits for each to log the new set) while the clients send without pause:
// - a rotation through the three steps: no datagram lost or duplicated, tokens minted with the old key
//   admitted during the overlap and refused after, a peer datagram and a peer request made with the
//   dropped key refused (the attack), the same made with the new key accepted;
// - the same switch made without the order (one reflector straight to the new key) loses datagrams, so
//   the zero-loss checks above can fail;
// - the way from an open mesh to a keyed one: no datagram lost, joins without a token admitted until
//   the last step and refused after it, untagged peer data refused after it.
import dgram from 'node:dgram';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { meshKeyId } from '../../../protocol/security/mesh-key-set.js';
import { peerControlKey, signPeerRequest } from '../../../protocol/security/peer-control.js';
import { peerEndpointKey, writePeerTag } from '../../../reflector/security/peer-tag.js';
import { PEER_HEADER_SIZE, PEER_TAG_SIZE, PEER_TAGGED_HEADER_SIZE, PEER_TAGGED_OVERHEAD, writePeerHeader, writeTaggedPeerHeader } from '../../../protocol/wire/peer-header.js';
import { closeClients, joinClients, lossReport, numberedPayload, steadyTraffic, type TestClient } from '../../support/mesh-traffic.js';
import { meshMemberSpec, reflectorPorts, startReflector, stopAll, TEST_MESH_KEY, waitForFullMesh, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';

const OLD = Buffer.from(TEST_MESH_KEY, 'base64');
const NEW = Buffer.alloc(32, 0x5e);
const b64 = (k: Buffer) => k.toString('base64');

/** Writes a key file the way a Secret volume changes: a whole new file renamed over the old. */
function writeKeyFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** The ids the reflector logs for a set ("open" for none). */
function idsOf(current: Buffer | 'open', accepted: (Buffer | 'open')[]): string {
  const id = (k: Buffer | 'open') => (k === 'open' ? 'open' : meshKeyId(k));
  return JSON.stringify({ current: id(current), accepted: accepted.map(id) });
}

function token(key: Buffer): string {
  return mintClientTokenWithMeshKey(key, { ttlSeconds: 3600 });
}

function peerDatagram(key: Buffer | undefined, address: string, port: number, sequence: number, body: Buffer): Buffer {
  if (!key) {
    const buf = Buffer.alloc(body.length + PEER_HEADER_SIZE);
    writePeerHeader(buf, 0x777, sequence);
    body.copy(buf, PEER_HEADER_SIZE);
    return buf;
  }
  const buf = Buffer.alloc(body.length + PEER_TAGGED_OVERHEAD);
  writeTaggedPeerHeader(buf, 0x777, sequence, Date.now());
  body.copy(buf, PEER_TAGGED_HEADER_SIZE);
  writePeerTag(buf, buf.length - PEER_TAG_SIZE, peerEndpointKey(key, address, port));
  return buf;
}

describe.each(['js', 'native'] as const)('mesh key rotation under traffic, %s data plane', (dataPlane) => {
  const host = dataPlane === 'js' ? 10 : 40;
  const addr = (i: number) => `127.0.11.${host + i}`;
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  let files: string[] = [];

  afterEach(async () => {
    closeClients(clients);
    await stopAll(mesh);
    mesh = [];
  });

  /** Three reflectors, each reading its own key file that starts as `text`; a client on each. */
  async function start(text: string, joinToken: string | undefined): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'rmesh-rotation-'));
    files = [0, 1, 2].map((i) => join(dir, `r${i}.keys`));
    for (const f of files) writeKeyFile(f, text);
    // A long peer timeout: the test's fake peer answers no keep-alive.
    const common = { dataPlane, peerTimeout: '20s' };
    const spec = async (i: number, joinVia?: string) => ({
      ...(await meshMemberSpec({ size: 3, addressPrefix: '127.0.11.', firstHost: host, common }, i, joinVia)),
      extraArgs: ['--mesh-key-file', files[i]!],
    });
    const first = await startReflector(await spec(0));
    mesh = [first, ...(await Promise.all([1, 2].map(async (i) => startReflector(await spec(i, first.controlAddress)))))];
    await waitForFullMesh(mesh);
    clients = await joinClients(3, (i) => ({ join: mesh[i]!.controlAddress, bindAddress: addr(6), token: joinToken }));
  }

  /** One step on every reflector: the file rewritten, SIGHUP, and the reflector's log says the new set. */
  async function step(text: string, expected: string): Promise<void> {
    for (const [i, r] of mesh.entries()) {
      writeKeyFile(files[i]!, text);
      r.child.kill('SIGHUP');
    }
    const logged = `"keys":${expected}`;
    await Promise.all(mesh.map((r) => r.waitForOutput(new RegExp(escape(logged)))));
  }

  async function joinWith(authorization: string | undefined): Promise<number> {
    const response = await fetch(mesh[0]!.url('/v1/join'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ role: 'recvonly' }),
    });
    await response.body?.cancel();
    // A reservation that never registers is gone after the registration deadline.
    return response.status;
  }

  async function droppedAt(r: ReflectorProcess): Promise<Record<string, number>> {
    return (await r.status()).counters.dropped;
  }

  /** Every client received every other client's [0, n) exactly once. */
  async function expectNoLoss(n: number): Promise<void> {
    await waitFor(() => lossReport(clients, n).length === 0, { timeoutMs: 5000, what: 'every datagram delivered' }).catch((err: Error) => {
      throw new Error(`${err.message}: ${lossReport(clients, n).join('; ')}`);
    });
    for (const r of clients) for (const s of clients) if (s !== r) expect(r.duplicatesFrom(s.index)).toBe(0);
  }

  it('rotates through the three steps with nothing lost; old tokens work during the overlap only; the dropped key is refused', async () => {
    await start(`current: ${b64(OLD)}\n`, token(OLD));
    const traffic = steadyTraffic(clients);
    await waitFor(() => traffic.sent > 50, { what: 'traffic flowing' });

    await step(`current: ${b64(OLD)}\naccept: ${b64(NEW)}\n`, idsOf(OLD, [NEW]));
    expect(await joinWith(`Bearer ${token(NEW)}`)).toBe(201);
    await step(`current: ${b64(NEW)}\naccept: ${b64(OLD)}\n`, idsOf(NEW, [OLD]));
    expect(await joinWith(`Bearer ${token(OLD)}`)).toBe(201); // minted before the rotation: still good in the overlap
    // Sign with the new key for a while: every reflector's copies now carry its tags.
    const signedFrom = traffic.sent;
    await waitFor(() => traffic.sent > signedFrom + 50, { what: 'traffic signed with the new key' });
    await step(`current: ${b64(NEW)}\n`, idsOf(NEW, []));
    expect(await joinWith(`Bearer ${token(OLD)}`)).toBe(401);
    expect(await joinWith(`Bearer ${token(NEW)}`)).toBe(201);
    const after = traffic.sent;
    await waitFor(() => traffic.sent > after + 50, { what: 'traffic after the old key is dropped' });
    const n = await traffic.stop();
    await expectNoLoss(n);
    for (const r of mesh) expect(await droppedAt(r)).toMatchObject({ bad_peer_tag: 0, replay: 0, malformed: 0 });

    // The attack: whoever kept the old key. A peer request signed with it is refused; a fake peer let in
    // with the new key (as the test holds it) sends one copy tagged with each: only the new one arrives.
    const [a] = mesh;
    const fake = { id: 'fake', address: addr(7), ...(await reflectorPorts()), rtp: false };
    const hello = JSON.stringify({ reflector: fake, clients: 0, introduce: false });
    const post = (key: Buffer) =>
      fetch(a!.url('/v1/peers/hello'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: signPeerRequest(peerControlKey(key), 'POST', '/v1/peers/hello', hello) },
        body: hello,
      });
    expect((await post(OLD)).status).toBe(401);
    expect((await post(NEW)).status).toBe(200);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(fake.dataPort, fake.address, resolve));
    try {
      const before = (await droppedAt(a!)).bad_peer_tag!;
      const send = (datagram: Buffer) => new Promise<void>((resolve, reject) => socket.send(datagram, a!.spec.dataPort, a!.spec.address, (err) => (err ? reject(err) : resolve())));
      await send(peerDatagram(OLD, fake.address, fake.dataPort, 1, numberedPayload(900, 1)));
      await waitFor(async () => (await droppedAt(a!)).bad_peer_tag === before + 1, { timeoutMs: 3000, what: 'the copy tagged with the dropped key refused' });
      await send(peerDatagram(NEW, fake.address, fake.dataPort, 2, numberedPayload(900, 2)));
      const local = clients.filter((c) => c.client.reflector?.id === a!.id);
      expect(local.length).toBeGreaterThan(0);
      await waitFor(() => local.every((c) => c.countFrom(900) === 1), { timeoutMs: 3000, what: 'the copy tagged with the new key delivered' });
      expect(local.every((c) => c.received.get(900)?.has(1) !== true)).toBe(true);
    } finally {
      socket.close();
    }
  });

  it('loses datagrams when the order is skipped (one reflector switched straight to the new key): what the steps prevent', async () => {
    await start(`current: ${b64(OLD)}\n`, token(OLD));
    const traffic = steadyTraffic(clients);
    await waitFor(() => traffic.sent > 50, { what: 'traffic flowing' });
    writeKeyFile(files[0]!, `current: ${b64(NEW)}\n`);
    mesh[0]!.child.kill('SIGHUP');
    await mesh[0]!.waitForOutput(new RegExp(escape(`"keys":${idsOf(NEW, [])}`)));
    await waitFor(async () => (await droppedAt(mesh[1]!)).bad_peer_tag! > 10 && (await droppedAt(mesh[0]!)).bad_peer_tag! > 10, { timeoutMs: 5000, what: 'copies refused both ways' });
    const n = await traffic.stop();
    expect(lossReport(clients, n).length).toBeGreaterThan(0);
  });

  it('goes from an open mesh to a keyed one with nothing lost; joins without a token refused only at the end', async () => {
    await start('current: open\n', undefined);
    const traffic = steadyTraffic(clients);
    await waitFor(() => traffic.sent > 50, { what: 'traffic flowing' });
    expect(await joinWith(undefined)).toBe(201);

    await step(`current: open\naccept: ${b64(NEW)}\n`, idsOf('open', [NEW]));
    expect(await joinWith(undefined)).toBe(201);
    await step(`current: ${b64(NEW)}\naccept: open\n`, idsOf(NEW, ['open']));
    expect(await joinWith(undefined)).toBe(201);
    const signedFrom = traffic.sent;
    await waitFor(() => traffic.sent > signedFrom + 50, { what: 'traffic signed with the key' });
    await step(`current: ${b64(NEW)}\n`, idsOf(NEW, []));
    expect(await joinWith(undefined)).toBe(401);
    expect(await joinWith(`Bearer ${token(NEW)}`)).toBe(201);
    const after = traffic.sent;
    await waitFor(() => traffic.sent > after + 50, { what: 'traffic in the keyed mesh' });
    const n = await traffic.stop();
    await expectNoLoss(n);
    for (const r of mesh) expect(await droppedAt(r)).toMatchObject({ bad_peer_tag: 0, replay: 0, malformed: 0 });

    // Keyed now: an unsigned peer request is refused, and so is untagged data from a known peer's
    // address family (a fake peer let in with the key sends one untagged and one tagged copy).
    const [a] = mesh;
    const fake = { id: 'fake', address: addr(7), ...(await reflectorPorts()), rtp: false };
    const hello = JSON.stringify({ reflector: fake, clients: 0, introduce: false });
    const unsigned = await fetch(a!.url('/v1/peers/hello'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: hello });
    expect(unsigned.status).toBe(401);
    const signed = await fetch(a!.url('/v1/peers/hello'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: signPeerRequest(peerControlKey(NEW), 'POST', '/v1/peers/hello', hello) },
      body: hello,
    });
    expect(signed.status).toBe(200);
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(fake.dataPort, fake.address, resolve));
    try {
      const before = (await droppedAt(a!)).bad_peer_tag!;
      const send = (datagram: Buffer) => new Promise<void>((resolve, reject) => socket.send(datagram, a!.spec.dataPort, a!.spec.address, (err) => (err ? reject(err) : resolve())));
      await send(peerDatagram(undefined, fake.address, fake.dataPort, 1, numberedPayload(900, 1, 200)));
      await waitFor(async () => (await droppedAt(a!)).bad_peer_tag === before + 1, { timeoutMs: 3000, what: 'the untagged copy refused' });
    } finally {
      socket.close();
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
