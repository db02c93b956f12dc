// Who may join, and who may move a stream, with real reflector processes (127.0.9.100-199, ports
// asked of the OS): a keyed mesh admits a client only with a valid client token (missing, expired, wrong
// key: 401; a role the token does not allow: 403), forwards a join to the reflector with the fewest
// clients after checking the token, and an open mesh admits anybody. `rmesh token` mints what
// `rmesh client --token` presents. On the data socket, a replayed or forged REGISTER moves nobody's
// stream, neither at the client's reflector nor at the target of a migration.
import dgram from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reflectorPorts, runCli, startMesh, startReflector, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';
import { closeClients, joinClients, sendRounds, type TestClient } from '../../support/mesh-traffic.js';
import { testClientToken } from '../../support/client-tokens.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { MeshClient, MeshError } from '../../../client/mesh-client.js';
import { ControlType, decodeControlDatagram, encodeControlDatagram } from '../../../protocol/wire/control-datagram.js';
import { parseClientId } from '../../../protocol/wire/client-id.js';
import type { JoinResponse, StatusResponse } from '../../../protocol/api-schemas.js';
import type { ClientReport } from '../../../tools/generator/report.js';

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { code: string; message: string };
  return { status: response.status, code: body.code, message: body.message };
}

describe('client tokens on a keyed mesh', () => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  const r0 = () => mesh[0]!;
  const r1 = () => mesh[1]!;

  beforeAll(async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.9.', firstHost: 100 });
  });

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('refuses a join without a token, with an expired one, or one made with another key (401)', async () => {
    const none = await r0().request('/v1/join', { body: {}, token: null });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(await errorOf(none)).toMatchObject({ status: 401, code: 'RMESH_TOKEN_REQUIRED', message: expect.stringMatching(/rmesh token/) as unknown });

    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    const expired = testClientToken({ nowSeconds: tenMinutesAgo, ttlSeconds: 60 });
    expect(await errorOf(await r0().request('/v1/join', { body: {}, token: expired }))).toMatchObject({
      status: 401,
      code: 'RMESH_TOKEN_EXPIRED',
      message: expect.stringMatching(/expired/) as unknown,
    });

    const otherKey = mintClientTokenWithMeshKey(randomBytes(32));
    expect(await errorOf(await r0().request('/v1/join', { body: {}, token: otherKey }))).toMatchObject({
      status: 401,
      code: 'RMESH_TOKEN_INVALID',
      message: expect.stringMatching(/another mesh key/) as unknown,
    });
    expect(await errorOf(await r0().request('/v1/join', { body: {}, token: 'not-a-token' }))).toMatchObject({ status: 401, code: 'RMESH_TOKEN_INVALID' });
    // A token with one character changed.
    const valid = testClientToken();
    const tampered = valid.slice(0, 10) + (valid[10] === 'A' ? 'B' : 'A') + valid.slice(11);
    expect((await r0().request('/v1/join', { body: {}, token: tampered })).status).toBe(401);
    // Nothing was admitted by any of these, and r0 counted each refusal.
    for (const r of mesh) expect((await r.status()).clients).toEqual([]);
    const metrics = await (await r0().request('/metrics', { token: null })).text();
    expect(metrics).toMatch(/^rmesh_admissions_total\{result="unauthorized"\} 5$/m);
  });

  it('refuses a role the token does not allow (403) and takes the token\'s role when none is asked', async () => {
    const listenOnly = testClientToken({ role: 'recvonly', subject: 'listener' });
    expect(await errorOf(await r0().request('/v1/join', { body: { role: 'sendrecv' }, token: listenOnly }))).toMatchObject({
      status: 403,
      code: 'RMESH_ROLE_FORBIDDEN',
      message: expect.stringMatching(/allows role recvonly only, not sendrecv/) as unknown,
    });
    expect((await r0().request('/v1/join', { body: { role: 'sendonly' }, token: listenOnly })).status).toBe(403);
    const joined = await r0().json<JoinResponse>('/v1/join', { body: {}, token: listenOnly });
    expect(joined.role).toBe('recvonly');
    // The token's subject names the session when the join names none.
    const at = mesh.find((r) => r.id === joined.reflector.id)!;
    const status = await at.status();
    expect(status.clients.find((c) => c.clientId === joined.clientId)).toMatchObject({ name: 'listener', role: 'recvonly' });
    const left = await at.request(`/v1/sessions/${joined.clientId}/leave`, { body: {}, token: joined.sessionKey });
    expect(left.status).toBe(204);
  });

  it('admits clients with valid tokens, and their traffic flows through both reflectors', async () => {
    clients = await joinClients(4, (i) => ({ join: mesh[i % 2]!.controlAddress, bindAddress: `127.0.9.${140 + i}`, token: testClientToken({ subject: `c${i}` }) }));
    const counts = await Promise.all(mesh.map(async (r) => (await r.status()).clients.length));
    expect(counts).toEqual([2, 2]);
    await sendRounds(clients, 0, 100, 2);
    await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.missingFrom(s.index, 0, 100).length === 0)), { timeoutMs: 5000, what: 'all traffic' });
    for (const r of clients) expect(r.received.has(r.index)).toBe(false);
  });

  it('checks the token at the reflector asked, then places the client at the one with the fewest clients', async () => {
    // Load r0 with one more client, so a join through r0 goes to r1.
    const extra = await joinClients(1, () => ({ join: r0().controlAddress, bindAddress: '127.0.9.150' }));
    clients.push(...extra);
    const before = (await r0().status()).clients.length;
    expect(before).toBe((await r1().status()).clients.length + 1);
    const placed = await r0().json<JoinResponse>('/v1/join', { body: { name: 'forwarded' }, token: testClientToken() });
    expect(placed.reflector.id).toBe(r1().id);
    // A bad token is refused by the reflector asked, before any placement.
    expect((await r0().request('/v1/join', { body: {}, token: mintClientTokenWithMeshKey(randomBytes(32)) })).status).toBe(401);
    await r1().request(`/v1/sessions/${placed.clientId}/leave`, { body: {}, token: placed.sessionKey });
  });

  it('the SDK reports a refused token with its code, without retrying forever', async () => {
    const client = new MeshClient({ join: [r0().controlAddress, r1().controlAddress], bindAddress: '127.0.9.151', token: testClientToken({ nowSeconds: 1_000_000, ttlSeconds: 60 }) });
    const err = await client.join().catch((e: unknown) => e);
    client.close();
    expect(err).toBeInstanceOf(MeshError);
    expect(err).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_EXPIRED' });
  });

  it('rmesh token mints what rmesh client --token presents; a bad token exits 1 saying so', async () => {
    // runCli gives the command the test mesh key (RMESH_MESH_KEY) and a token; blank the token here.
    const minted = await runCli(['token', '--key-env', 'RMESH_MESH_KEY', '--subject', 'cli-client', '--ttl', '5m', '--role', 'sendrecv'], { RMESH_TOKEN: '' });
    expect(minted.code, minted.stderr).toBe(0);
    const token = minted.stdout.trim();
    expect(token).toMatch(/^rmt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const run = await runCli(
      ['client', '--join', r0().controlAddress, '--token', token, '--bind', '127.0.9.152', '--duration', '1s', '--bitrate', '200kbps', '--report', 'json', '--no-progress'],
      { RMESH_TOKEN: '' },
      30_000,
    );
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as ClientReport;
    expect(report.sent).toBeGreaterThan(0);
    expect(report.clientId).toMatch(/^[0-9a-f]{12}$/);

    // The same through RMESH_TOKEN, and from a file (--token-file, read before each join).
    const viaEnv = await runCli(['client', '--join', r0().controlAddress, '--bind', '127.0.9.153', '--duration', '500ms', '--report', 'none', '--no-progress'], { RMESH_TOKEN: token }, 30_000);
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    const file = join(mkdtempSync(join(tmpdir(), 'rmesh-token-')), 'token');
    writeFileSync(file, `${token}\n`);
    const viaFile = await runCli(['client', '--join', r0().controlAddress, '--token-file', file, '--bind', '127.0.9.156', '--duration', '500ms', '--report', 'none', '--no-progress'], { RMESH_TOKEN: '' }, 30_000);
    expect(viaFile.code, viaFile.stderr).toBe(0);

    const wrongKey = await runCli(['token'], { RMESH_MESH_KEY: randomBytes(32).toString('base64'), RMESH_TOKEN: '' });
    const refused = await runCli(['client', '--join', r0().controlAddress, '--token', wrongKey.stdout.trim(), '--bind', '127.0.9.154', '--duration', '1s', '--no-progress'], { RMESH_TOKEN: '' }, 30_000);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused the client's token \(RMESH_TOKEN_INVALID\)/);

    const none = await runCli(['client', '--join', r0().controlAddress, '--bind', '127.0.9.155', '--duration', '1s', '--no-progress'], { RMESH_TOKEN: '' }, 30_000);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/RMESH_TOKEN_REQUIRED/);
  });

  it('rmesh token: bad flags exit 2 with a clear message; rmesh token key makes a usable key', async () => {
    for (const [args, env, message] of [
      [['token', '--role', 'admin'], {}, /admin/],
      [['token', '--ttl', 'forever'], {}, /duration/],
      [['token', '--ttl', '400d'], {}, /longer than 366 days/],
      [['token', '--ttl', '9000h'], {}, /longer than 366 days/],
      [['token', '--ttl', '0.1s'], {}, /shorter than one second/],
      [['token', '--key-env', 'NO_SUCH_VAR_X'], {}, /NO_SUCH_VAR_X.*not set/],
      [['token', '--key-env', '1bad'], {}, /not an environment variable name/],
      [['token', '--key-file', '/nonexistent/key'], {}, /cannot read the mesh key file/],
      [['token', '--key-file', '/etc/hostname', '--key-env', 'RMESH_MESH_KEY'], {}, /not both/],
      [['token'], { RMESH_MESH_KEY: '' }, /no mesh key/],
      [['token'], { RMESH_MESH_KEY: 'c2hvcnQ=' }, /at least 32/],
      [['client', '--join', '127.0.9.199:51999', '--token', 'abc'], {}, /not a client token/],
      [['client', '--join', '127.0.9.199:51999', '--token-file', '/nonexistent/token'], { RMESH_TOKEN: '' }, /--token-file: .*no such file/i],
      [['client', '--join', '127.0.9.199:51999', '--token-file', '/etc/hostname'], {}, /not both/],
      [['proxy', '--join', '127.0.9.199:51999', '--listen', '127.0.9.199:51998', '--token-file', '/etc/hostname'], { RMESH_TOKEN: '' }, /does not hold a client token/],
    ] as const) {
      const result = await runCli([...args], { ...env });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const key = await runCli(['token', 'key']);
    expect(key.code).toBe(0);
    expect(Buffer.from(key.stdout.trim(), 'base64')).toHaveLength(32);
    const minted = await runCli(['token', '--role', 'recvonly'], { RMESH_MESH_KEY: key.stdout.trim() });
    const verified = await runCli(['token', 'verify', minted.stdout.trim()], { RMESH_MESH_KEY: key.stdout.trim() });
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ valid: true, claims: { role: 'recvonly' } });
    const other = await runCli(['token', 'verify', minted.stdout.trim()]);
    expect(other.code).toBe(1);
    expect(JSON.parse(other.stdout)).toMatchObject({ valid: false, reason: 'bad_tag' });
  });
});

describe('an open mesh', () => {
  let open: ReflectorProcess | undefined;
  afterAll(async () => {
    await open?.kill();
  });

  it('admits a client without a token (and ignores one given)', async () => {
    open = await startReflector({ address: '127.0.9.110', ...(await reflectorPorts()), meshKey: null });
    const joined = await open.json<JoinResponse>('/v1/join', { body: { role: 'recvonly' }, token: null });
    expect(joined.role).toBe('recvonly');
    const withToken = await open.json<JoinResponse>('/v1/join', { body: {}, token: mintClientTokenWithMeshKey(randomBytes(32), { role: 'recvonly' }) });
    expect(withToken.role).toBe('sendrecv');
  });
});

describe('control datagrams cannot be replayed or forged to move a stream', () => {
  let mesh: ReflectorProcess[] = [];
  const sockets: dgram.Socket[] = [];

  beforeAll(async () => {
    // A long idle timeout: the raw client below sends no keep-alives.
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.9.', firstHost: 120, common: { clientIdleTimeout: '30s' } });
  });

  afterAll(async () => {
    for (const s of sockets) s.close();
    await stopAll(mesh);
  });

  async function socketAt(address: string): Promise<{ socket: dgram.Socket; acks: bigint[] }> {
    const socket = dgram.createSocket('udp4');
    sockets.push(socket);
    const acks: bigint[] = [];
    socket.on('message', (msg) => {
      try {
        const d = decodeControlDatagram(msg);
        if (d.type === ControlType.RegisterAck) acks.push(d.nonce);
      } catch {
        // data, not control
      }
    });
    await new Promise<void>((resolve) => socket.bind(0, address, resolve));
    return { socket, acks };
  }

  const send = (socket: dgram.Socket, buf: Buffer, to: ReflectorProcess) =>
    new Promise<void>((resolve, reject) => socket.send(buf, to.spec.dataPort, to.spec.address, (err) => (err ? reject(err) : resolve())));

  const endpointsAt = async (r: ReflectorProcess, clientId: string) => (await r.status()).clients.find((c) => c.clientId === clientId);

  it('at the client\'s reflector and at a migration target', async () => {
    const [a, b] = mesh as [ReflectorProcess, ReflectorProcess];
    const joined = await a.json<JoinResponse>('/v1/join', { body: {}, token: testClientToken() });
    expect(joined.reflector.id).toBe(a.id);
    const clientId = parseClientId(joined.clientId)!;
    const key = Buffer.from(joined.sessionKey, 'base64url');
    const client = await socketAt('127.0.9.130');
    const attacker = await socketAt('127.0.9.131');
    const clientPort = client.socket.address().port;

    let nonce = BigInt(Date.now());
    const captured = encodeControlDatagram({ type: ControlType.Register, clientId, nonce }, key);
    await send(client.socket, captured, a);
    await waitFor(() => client.acks.includes(nonce), { timeoutMs: 3000, what: 'REGISTER_ACK' });
    expect((await endpointsAt(a, joined.clientId))?.endpoints).toEqual([{ address: '127.0.9.130', port: clientPort }]);
    const authDrops = async (r: ReflectorProcess) => (await r.status()).counters.dropped.auth ?? 0;
    const dropsBefore = await authDrops(a);

    // The captured REGISTER replayed from another address, and one forged without the key.
    await send(attacker.socket, captured, a);
    await send(attacker.socket, encodeControlDatagram({ type: ControlType.Register, clientId, nonce: nonce + 1000n }, randomBytes(32)), a);
    await waitFor(async () => (await authDrops(a)) >= dropsBefore + 2, { what: 'both refused at a', timeoutMs: 3000 }).catch(() => undefined);
    expect(attacker.acks).toEqual([]);
    expect((await endpointsAt(a, joined.clientId))?.endpoints).toEqual([{ address: '127.0.9.130', port: clientPort }]);
    expect(await authDrops(a)).toBe(dropsBefore + 2);

    // Migrate to b; while b holds the reservation, replay the captured REGISTER at b.
    const migration = a.request(`/v1/clients/${joined.clientId}/migrate`, { body: { to: b.id } });
    await waitFor(async () => (await endpointsAt(b, joined.clientId))?.state === 'reserved', { timeoutMs: 3000, what: 'the reservation at b' });
    await send(attacker.socket, captured, b);
    await waitFor(async () => (await authDrops(b)) >= 1, { what: 'the replay refused at b', timeoutMs: 3000 }).catch(() => undefined);
    expect(attacker.acks).toEqual([]);
    expect(await endpointsAt(b, joined.clientId)).toMatchObject({ state: 'reserved', endpoints: [] });
    expect(await authDrops(b)).toBeGreaterThanOrEqual(1);

    // The client's own fresh REGISTER completes the migration.
    nonce += 1n;
    await send(client.socket, encodeControlDatagram({ type: ControlType.Register, clientId, nonce }, key), b);
    const done = await migration;
    expect(done.status).toBe(200);
    expect((await endpointsAt(b, joined.clientId))?.endpoints).toEqual([{ address: '127.0.9.130', port: clientPort }]);
    const atB: StatusResponse = await b.status();
    expect(atB.clients.find((c) => c.clientId === joined.clientId)?.state).toBe('active');
  });
});
