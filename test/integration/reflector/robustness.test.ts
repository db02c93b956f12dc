// Bad input never stops the mesh: datagrams from unknown sources, malformed and forged control
// datagrams, oversized payloads and broken HTTP requests are rejected (and counted) while two clients'
// traffic goes on without loss. Also: idle purge, keep-alives for recvonly clients, the admin token,
// the OpenAPI document and the Prometheus metrics.
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor, sleep } from '../../support/wait.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { testClientToken } from '../../support/client-tokens.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import { MeshClient } from '../../../client/mesh-client.js';
import { ControlType, decodeControlDatagram, encodeControlDatagram } from '../../../protocol/wire/control-datagram.js';
import { parseClientId } from '../../../protocol/wire/client-id.js';
import { randomBytes } from 'node:crypto';

const TOKEN = 'mesh-secret';

describe('a reflector under bad input', () => {
  let mesh: ReflectorProcess[] = [];
  let pair: TestClient[] = [];
  let attacker: dgram.Socket;
  let sequence = 0;
  let traffic: NodeJS.Timeout;
  const r0 = () => mesh[0]!;

  beforeAll(async () => {
    mesh = await startMesh({
      size: 2,
      addressPrefix: '127.0.1.',
      firstHost: 31,
      common: { adminToken: TOKEN, extraArgs: ['--max-datagram-size', '512'] },
    });
    pair = await joinClients(2, (i) => ({ join: mesh[0]!.controlAddress, bindAddress: `127.0.1.${160 + i}` }));
    expect(new Set(pair.map((c) => c.client.reflector?.id)).size).toBe(2);
    // Both clients send all through the test; the last check is that none of it was lost.
    traffic = setInterval(() => {
      for (const c of pair) c.send(sequence);
      sequence++;
    }, 5);
    attacker = dgram.createSocket('udp4');
    await new Promise<void>((r) => attacker.bind(0, '127.0.1.199', r));
  });

  afterAll(async () => {
    clearInterval(traffic);
    attacker?.close();
    closeClients(pair);
    await stopAll(mesh);
  });

  const dropped = async (reason: string) => (await r0().status()).counters.dropped[reason] ?? 0;
  const dataPort = () => r0().spec.dataPort;

  it('drops and counts datagrams from unknown sources, delivering nothing', async () => {
    const before = await dropped('unknown_source');
    for (let i = 0; i < 50; i++) attacker.send(Buffer.from(`junk ${i}`), dataPort(), r0().spec.address);
    await waitFor(async () => (await dropped('unknown_source')) >= before + 50, { what: '50 unknown-source drops' });
    for (const c of pair) expect(c.foreign).toEqual([]);
  });

  it('refuses, or drops and counts, malformed and forged control datagrams', async () => {
    const malformed = await dropped('malformed');
    const auth = await dropped('auth');
    const target = pair.find((c) => c.client.reflector?.id === r0().id)!;
    const victimId = parseClientId(target.client.clientId!)!;
    const bad = [
      Buffer.from('RMSH'), // too short
      Buffer.concat([Buffer.from('RMSH'), Buffer.alloc(40)]), // wrong size
      (() => {
        const b = encodeControlDatagram({ type: ControlType.Register, clientId: victimId, nonce: 1n }, randomBytes(32));
        b[4] = 9; // unknown version
        return b;
      })(),
    ];
    for (const b of bad) attacker.send(b, dataPort(), r0().spec.address);
    // A forged REGISTER for a real client (wrong key, huge nonce) must not move its stream.
    attacker.send(encodeControlDatagram({ type: ControlType.Register, clientId: victimId, nonce: 2n ** 62n }, randomBytes(32)), dataPort(), r0().spec.address);
    await waitFor(async () => (await dropped('malformed')) >= malformed + 3 && (await dropped('auth')) >= auth + 1, { what: 'malformed and auth drops' });
    // A REGISTER naming no session is answered REFUSED (so a purged client knows to join again).
    const refused = new Promise<Buffer>((resolve) => attacker.once('message', resolve));
    attacker.send(encodeControlDatagram({ type: ControlType.Register, clientId: 0x123456789abc, nonce: 1n }, randomBytes(32)), dataPort(), r0().spec.address);
    const reply = decodeControlDatagram(await refused);
    expect(reply).toMatchObject({ type: ControlType.Refused, clientId: 0x123456789abc });
    const status = await r0().status();
    const entry = status.clients.find((c) => c.clientId === target.client.clientId);
    expect(entry?.endpoints).toEqual([target.client.localEndpoints[0]]);
  });

  it('drops and counts oversized datagrams', async () => {
    const before = await dropped('oversized');
    const sender = pair[0]!;
    sender.send(999_999, 600);
    await waitFor(async () => (await dropped('oversized')) + ((await mesh[1]!.status()).counters.dropped.oversized ?? 0) > before, { what: 'an oversized drop' });
    // Proving an absence: a copy, had one been made, would arrive within this.
    await sleep(200);
    for (const c of pair) expect(c.received.get(sender.index)?.has(999_999) ?? false).toBe(false);
  });

  it('rejects broken HTTP requests with JSON errors and keeps serving', async () => {
    const expectError = async (response: Response, status: number, code?: string) => {
      expect(response.status).toBe(status);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.statusCode).toBe(status);
      expect(typeof body.error).toBe('string');
      expect(typeof body.message).toBe('string');
      if (code) expect(body.code).toBe(code);
    };
    const joinToken = testClientToken();
    await expectError(await r0().request('/v1/join', { raw: '{"role": ', token: joinToken }), 400);
    await expectError(await r0().request('/v1/join', { body: { role: 'broadcaster' }, token: joinToken }), 400, 'RMESH_BAD_REQUEST');
    await expectError(await r0().request('/v1/join', { body: { role: ['sendrecv'], name: { nested: true } }, token: joinToken }), 400);
    // Without a token a join is refused before its body is read.
    await expectError(await r0().request('/v1/join', { raw: '{"role": ', token: null }), 401, 'RMESH_TOKEN_REQUIRED');
    await expectError(await r0().request('/v1/nowhere'), 404, 'RMESH_NOT_FOUND');
    await expectError(await r0().request('/v1/sessions/not-an-id/events'), 400, 'RMESH_BAD_REQUEST');
    await expectError(await r0().request(`/v1/sessions/${pair[0]!.client.clientId}/events`, { token: 'wrong' }), 401);
    await expectError(await r0().request('/v1/status', { token: null }), 401, 'RMESH_UNAUTHORIZED');
    await expectError(await r0().request('/v1/peers', { method: 'PUT', body: { peers: [] }, token: 'nope' }), 401);
    await expectError(await r0().request('/v1/peers/hello', { body: { reflector: {}, clients: 0, introduce: false }, token: null }), 401);
    await expectError(await r0().request('/v1/peers/hello', { body: { reflector: { id: 'x' }, clients: -1, introduce: false } }), 400);
    await expectError(await r0().request('/v1/clients/000000000001/migrate', { body: { to: mesh[1]!.id } }), 404, 'RMESH_UNKNOWN_CLIENT');
    await expectError(await r0().request('/v1/join', { raw: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }), token: joinToken }), 413);
    // Raw garbage on the TCP port: an HTTP 400 and a closed connection, not a crash.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(r0().spec.controlPort, r0().spec.address, () => socket.write('\x00\x01GARBAGE \r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await r0().request('/healthz')).status).toBe(200);
  });

  it('purges an idle client, but keeps a recvonly client alive by its keep-alives', async () => {
    const idle = new MeshClient({ join: r0().controlAddress, bindAddress: '127.0.1.170', token: testClientToken() });
    const listener = new MeshClient({ join: r0().controlAddress, role: 'recvonly', bindAddress: '127.0.1.171', token: testClientToken() });
    await idle.join();
    await listener.join();
    const idleId = idle.clientId;
    const where = async (id: string | undefined) => {
      for (const r of mesh) if ((await r.status()).clients.some((c) => c.clientId === id)) return r.id;
      return undefined;
    };
    expect(await where(idleId)).toBeDefined();
    idle.close(); // silent: no leave, no keep-alives
    await waitFor(async () => (await where(idleId)) === undefined, { timeoutMs: 6000, what: 'the idle client purged' });
    await sleep(2000); // longer than the 1.5 s idle timeout
    expect(await where(listener.clientId)).toBeDefined();
    await listener.leave();
    expect(await where(listener.clientId)).toBeUndefined();
  });

  it('describes every endpoint in the OpenAPI document', async () => {
    const doc = await r0().json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>('/openapi.json', { token: null });
    expect(doc.openapi).toMatch(/^3\./);
    const endpoints = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
    expect(endpoints.sort()).toEqual(
      [
        'POST /v1/join',
        'GET /v1/sessions/{clientId}/events',
        'POST /v1/sessions/{clientId}/leave',
        'POST /v1/peers/hello',
        'POST /v1/peers/keepalive',
        'POST /v1/peers/admit',
        'POST /v1/peers/moved',
        'POST /v1/peers/offload',
        'POST /v1/peers/bye',
        'GET /v1/status',
        'GET /v1/peers',
        'PUT /v1/peers',
        'POST /v1/clients/{clientId}/migrate',
        'POST /v1/drain',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ].sort(),
    );
  });

  it('exposes Prometheus metrics that parse, with every documented family', async () => {
    const scrape = async () => parsePrometheusText(await (await r0().request('/metrics', { token: null })).text());
    const response = await r0().request('/metrics', { token: null });
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    // The listener of the test before left at either reflector: r0 learns a peer's count from its
    // keep-alive, announced at once but in flight (CI saw the scrape before it: n = 3, predicted 6).
    await waitFor(async () => sampleValue(await scrape(), 'rmesh_outbound_streams_predicted') === 2, { timeoutMs: 5000, what: 'the two clients left, at r0' }).catch(() => undefined);
    const families = await scrape();
    for (const name of [
      'rmesh_datagrams_received_total',
      'rmesh_datagrams_sent_total',
      'rmesh_bytes_received_total',
      'rmesh_bytes_sent_total',
      'rmesh_datagrams_dropped_total',
      'rmesh_clients',
      'rmesh_peers',
      'rmesh_outbound_streams',
      'rmesh_outbound_streams_predicted',
      'rmesh_outbound_bits_per_second',
      'rmesh_migrations_total',
      'rmesh_migration_duration_seconds',
      'rmesh_forwarding_latency_seconds',
      'rmesh_admissions_total',
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    expect(families.get('rmesh_forwarding_latency_seconds')!.type).toBe('histogram');
    expect(sampleValue(families, 'rmesh_datagrams_dropped_total', { reason: 'unknown_source' })).toBeGreaterThanOrEqual(50);
    expect(sampleValue(families, 'rmesh_datagrams_received_total', { source: 'client' })).toBeGreaterThan(0);
    expect(sampleValue(families, 'rmesh_forwarding_latency_seconds_count')).toBeGreaterThan(0);
    expect(sampleValue(families, 'rmesh_peers')).toBe(1);
    // m = 2, n = 2: nr = 1, out = 1·(2+2-2) = 2.
    expect(sampleValue(families, 'rmesh_outbound_streams_predicted')).toBe(2);
  });

  it('lost none of the traffic that went on meanwhile', async () => {
    clearInterval(traffic);
    const sent = sequence;
    await waitFor(() => pair.every((r) => r.countFrom(1 - r.index, 0, sent) === sent), { timeoutMs: 5000, what: 'all traffic' }).catch(() => undefined);
    expect(sent).toBeGreaterThan(200);
    for (const r of pair) {
      expect(r.missingFrom(1 - r.index, 0, sent)).toEqual([]);
      expect(r.duplicatesFrom(1 - r.index)).toBe(0);
    }
  });
});
