// The reflector's control API limits on a real `rmesh reflector` process over real HTTP: 413 for a
// client body above its limit (said before the body is sent, from Content-Length), 429 with
// Retry-After past a source's burst, and a request that never finishes arriving is cut off at the
// request timeout instead of holding its socket.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reflectorPorts, startReflector, type ReflectorProcess } from '../../support/reflector-process.js';
import { CLIENT_BODY_LIMIT } from '../../../reflector/api/server.js';
import { SERVER_TIMEOUTS } from '../../../protocol/http-limits.js';

const ADDRESS = '127.0.9.30';

describe('control API limits of a real reflector', () => {
  let reflector: ReflectorProcess;
  const url = (path: string) => `http://${ADDRESS}:${reflector.spec.controlPort}${path}`;

  beforeAll(async () => {
    reflector = await startReflector({
      address: ADDRESS,
      ...(await reflectorPorts()),
      dataPlane: 'js',
      extraArgs: ['--api-rate-limit', '2', '--api-rate-burst', '30'],
      env: { RMESH_MESH_KEY: '', RMESH_OPEN_MESH: 'true' },
    });
  });

  afterAll(async () => {
    await reflector?.kill('SIGKILL');
  });

  it('answers 413 to a join body above the client limit', async () => {
    const r = await fetch(url('/v1/join'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'sendrecv', name: 'x'.repeat(CLIENT_BODY_LIMIT) }),
    });
    expect(r.status).toBe(413);
    const body = (await r.json()) as { code: string; message: string };
    expect(body.code).toBe('RMESH_BODY_TOO_LARGE');
    expect(body.message).toContain(`${CLIENT_BODY_LIMIT} bytes`);
  });

  it('cuts off a request that never finishes arriving at the request timeout', async () => {
    const socket = net.connect(reflector.spec.controlPort, ADDRESS);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    // Headers and a promise of 100 bytes, then only 10 of them: a slow-loris client.
    socket.write(`POST /v1/join HTTP/1.1\r\nHost: ${ADDRESS}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"role":"s`);
    const started = Date.now();
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const heldMs = Date.now() - started;
    // Closed by the server (408 or a plain close), no sooner than the timeout and not much later.
    expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
    expect(heldMs).toBeGreaterThanOrEqual(SERVER_TIMEOUTS.requestTimeout - 1000);
    expect(heldMs).toBeLessThan(SERVER_TIMEOUTS.requestTimeout + 5000);
  }, 30_000);

  it('answers 429 with Retry-After once a source spent its burst', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 40; i++) {
      const r = await fetch(url('/v1/sessions/000000000001/events'));
      statuses.push(r.status);
      if (r.status === 429) limited ??= r;
      else await r.arrayBuffer();
    }
    // 30 of burst, then 2 per second.
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    expect(statuses.slice(0, 30).every((s) => s === 401 || s === 404)).toBe(true);
    // Probes are never throttled.
    expect((await fetch(url('/healthz'))).status).toBe(200);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await limited!.json()) as { code: string }).code).toBe('RMESH_RATE_LIMITED');
  });
});
