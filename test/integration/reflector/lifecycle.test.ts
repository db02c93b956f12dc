// The reflector's life cycle and the operator's levers: flags and environment variables (bad flags exit
// 2), migrating one client by the admin API, draining, SIGTERM (drain, then exit 0), and RTP mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reflectorPorts, runCli, startMesh, startReflector, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor, sleep } from '../../support/wait.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { testClientToken } from '../../support/client-tokens.js';
import type { MigratedEvent } from '../../../client/mesh-client.js';
import type { JoinResponse, MigrateResponse, StatusResponse } from '../../../protocol/api-schemas.js';

describe('rmesh reflector flags', () => {
  it.each([
    [['--data-port', '99999'], /data-port/],
    [['--keepalive-interval', 'soon'], /keepalive-interval/],
    [['--data-plane', 'fast'], /data-plane/],
    [['--address', '0.0.0.0'], /advertise-address/],
    [['--keepalive-interval', '2s', '--peer-timeout', '1s'], /peer-timeout/],
    [['--join', 'nowhere'], /HOST:PORT/],
    [['--max-datagram-size', '10'], /max-datagram-size/],
    [['--no-such-flag'], /unknown option/],
    [['--rtp', 'maybe'], /rtp/],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const result = await runCli(['reflector', '--address', '127.0.1.49', '--data-port', '20490', '--control-port', '20495', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits 2 without a mesh key unless --open-mesh, saying how to make one', async () => {
    const base = ['reflector', '--address', '127.0.1.49', '--data-port', '20490', '--control-port', '20495'];
    const none = await runCli(base, { RMESH_MESH_KEY: '' });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no mesh key.*head -c 32 \/dev\/urandom \| base64.*--open-mesh/s);
    const short = await runCli(base, { RMESH_MESH_KEY: Buffer.alloc(16, 1).toString('base64') });
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/16 bytes.*at least 32/);
    const both = await runCli([...base, '--open-mesh']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--open-mesh.*both/);
    const missing = await runCli([...base, '--mesh-key-file', '/nonexistent/key'], { RMESH_MESH_KEY: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read the mesh key file \/nonexistent\/key/);
  });

  it('exits 2 for a bad environment variable too', async () => {
    const result = await runCli(['reflector'], { RMESH_ADDRESS: '127.0.1.49', RMESH_DATA_PORT: 'abc' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/RMESH_DATA_PORT|data-port/);
  });

  it('takes every setting from RMESH_* environment variables', async () => {
    const ports = await reflectorPorts();
    const r = await startReflector({
      address: '127.0.1.48',
      ...ports,
      env: {
        RMESH_ID: 'rm-env',
        RMESH_ADVERTISE_ADDRESS: '127.0.1.48',
        RMESH_RTP: 'true',
        RMESH_ADMIN_TOKEN: 'tok',
        RMESH_KEEPALIVE_INTERVAL: '300ms',
        RMESH_CLIENT_IDLE_TIMEOUT: '4s',
        RMESH_MAX_CLIENTS: '1',
        RMESH_DATA_PLANE: 'js',
      },
    });
    try {
      const status = await r.json<StatusResponse>('/v1/status', { token: 'tok' });
      expect(status.reflector).toEqual({ id: 'rm-env', address: '127.0.1.48', ...ports, rtp: true });
      expect(status.dataPlane).toBe('js');
      expect((await r.request('/v1/status', { token: null })).status).toBe(401);
      const join = await r.json<JoinResponse>('/v1/join', { body: {}, token: testClientToken() });
      expect(join).toMatchObject({ keepaliveIntervalMs: 300, idleTimeoutMs: 4000 });
      const full = await r.request('/v1/join', { body: {}, token: testClientToken() });
      expect(full.status).toBe(503);
      expect(await full.json()).toMatchObject({ code: 'RMESH_MESH_FULL' });
    } finally {
      await r.kill();
    }
  });

  it('exits 1 naming the problem when a port is taken', async () => {
    const r = await startReflector({ address: '127.0.1.47', ...(await reflectorPorts()) });
    // Its data port taken, another control port free.
    const { controlPort } = await reflectorPorts();
    try {
      const result = await runCli(['reflector', '--address', '127.0.1.47', '--data-port', String(r.spec.dataPort), '--control-port', String(controlPort)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/already in use/);
    } finally {
      await r.kill();
    }
  });
});

describe('migrate, drain and SIGTERM', () => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  const migrations: MigratedEvent[] = [];
  let sequence = 0;
  let traffic: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    mesh = await startMesh({ size: 3, addressPrefix: '127.0.1.', firstHost: 41 });
    clients = await joinClients(6, (i) => ({ join: mesh[0]!.controlAddress, bindAddress: `127.0.1.${180 + i}` }));
    for (const c of clients) c.client.on('migrated', (e) => migrations.push(e));
    traffic = setInterval(() => {
      for (const c of clients) c.send(sequence);
      sequence++;
    }, 5);
  });

  afterAll(async () => {
    clearInterval(traffic);
    closeClients(clients);
    await stopAll(mesh);
  });

  const clientsAt = async (r: ReflectorProcess) => (await r.status()).clients.filter((c) => c.state !== 'departing');

  it('moves one client by the admin API, make before break', async () => {
    const [a, b] = mesh;
    const mover = clients.find((c) => c.client.reflector?.id === a!.id)!;
    const result = await a!.json<MigrateResponse>(`/v1/clients/${mover.client.clientId}/migrate`, { body: { to: b!.id } });
    expect(typeof result.migrationId).toBe('string');
    expect(result.durationMs).toBeGreaterThan(0);
    expect(mover.client.reflector?.id).toBe(b!.id);
    expect(migrations.at(-1)).toMatchObject({ migrationId: result.migrationId, from: { id: a!.id }, to: { id: b!.id } });
    expect((await clientsAt(b!)).map((c) => c.clientId)).toContain(mover.client.clientId);
    const again = await a!.request(`/v1/clients/${mover.client.clientId}/migrate`, { body: { to: b!.id } });
    expect([404, 409]).toContain(again.status);
    const nowhere = await b!.request(`/v1/clients/${mover.client.clientId}/migrate`, { body: { to: 'no-such-reflector' } });
    expect(nowhere.status).toBe(404);
  });

  it('drains a reflector: it stops admitting and its clients move to the others', async () => {
    const c = mesh[2]!;
    const drained = await c.request('/v1/drain', { body: {} });
    expect(drained.status).toBe(202);
    expect((await c.request('/readyz')).status).toBe(503);
    await waitFor(async () => (await clientsAt(c)).length === 0, { timeoutMs: 10_000, what: 'the drain' });
    // A client asking the draining reflector is admitted elsewhere.
    const late = await c.json<JoinResponse>('/v1/join', { body: {}, token: testClientToken() });
    expect(late.reflector.id).not.toBe(c.id);
    expect((await c.request('/v1/drain', { body: {} })).status).toBe(202); // idempotent
  });

  it('on SIGTERM drains its clients to the peers and exits 0, and the peers drop it', async () => {
    const a = mesh[0]!;
    const remaining = mesh[1]!;
    expect((await clientsAt(a)).length).toBeGreaterThan(0);
    const exit = await a.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor(() => clients.every((c) => c.client.reflector?.id === remaining.id), { timeoutMs: 5000, what: 'every client at the last open reflector' });
    const peers = await remaining.json<{ peers: { id: string }[] }>('/v1/peers');
    expect(peers.peers.map((p) => p.id)).not.toContain(a.id);
  });

  it('lost none of the traffic through migration, drain and shutdown', async () => {
    clearInterval(traffic);
    traffic = undefined;
    const sent = sequence;
    await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index, 0, sent) === sent)), {
      timeoutMs: 5000,
      what: 'all traffic',
    }).catch(() => undefined);
    // Every pair at once, so a failure shows the whole pattern of loss (which receivers, which senders).
    const lost: Record<string, number[]> = {};
    for (const r of clients) {
      expect(r.received.has(r.index)).toBe(false);
      for (const s of clients) {
        const missing = s === r ? [] : r.missingFrom(s.index, 0, sent);
        if (missing.length > 0) lost[`at ${r.index} from ${s.index}`] = missing;
      }
    }
    expect(lost).toEqual({});
  });
});

describe('RTP mode', () => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.1.', firstHost: 45, common: { rtp: true } });
    clients = await joinClients(3, (i) => ({ join: mesh[0]!.controlAddress, bindAddress: `127.0.1.${190 + i}` }));
  });

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('serves P for RTP and P+1 for RTCP, with the same rules on both', async () => {
    const got = clients.map(() => [0, 0]);
    clients.forEach((c, i) => c.client.on('data', (_payload, portIndex) => got[i]![portIndex]!++));
    expect(clients[0]!.client.info?.portCount).toBe(2);
    for (let n = 0; n < 20; n++) {
      for (const c of clients) {
        c.client.send(Buffer.from([0x80, 0x60, 0, n]), 0);
        c.client.send(Buffer.from([0x81, 0xc8, 0, n]), 1);
      }
      await sleep(2);
    }
    await waitFor(() => got.every(([rtp, rtcp]) => rtp === 40 && rtcp === 40), { timeoutMs: 5000, what: 'RTP and RTCP at every client' });
    const status = await mesh[0]!.status();
    for (const c of status.clients) expect(c.endpoints).toHaveLength(2);
  });
});
