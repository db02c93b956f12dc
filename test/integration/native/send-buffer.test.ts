// A send buffer that stays full must not stall the port thread: the native engine waits for room at
// most RM_SEND_WAIT_MS per flush, then drops what is left of the batch (drop reason send_buffer) and
// goes back to its receive queue. The engine runs in a child process with full-sndbuf.c preloaded, which
// makes its data socket's sendmmsg fail with EAGAIN (loopback never fills a send buffer).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import { type EngineChild, startEngineChild } from './engine-process.js';
import { freePort } from '../../support/ports.js';
import { ENGINE_ADDRESS, Endpoints, client, payload } from './harness.js';

const native = loadNativeMirror();
const dir = mkdtempSync(join(tmpdir(), 'rmesh-full-sndbuf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.runIf(native.ok)('native engine with a send buffer that stays full', () => {
  const endpoints = new Endpoints();
  let engine: EngineChild | undefined;
  afterEach(async () => {
    engine?.kill();
    engine = undefined;
    await endpoints.closeAll();
  });

  it('drops the copies as send_buffer after a bounded wait and keeps taking datagrams in', async () => {
    const shim = join(dir, 'full-sndbuf.so');
    const build = spawnSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O1', '-o', shim, join(import.meta.dirname, 'full-sndbuf.c'), '-ldl'], { encoding: 'utf8' });
    expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
    const dataPort = await freePort(ENGINE_ADDRESS);
    const [sender, a, b] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open()]);
    const table = { clients: [client(1, sender.endpoint, 'sendonly'), client(2, a.endpoint, 'recvonly'), client(3, b.endpoint, 'recvonly')], peers: [] };
    engine = await startEngineChild('native', dataPort, table, { env: { ...process.env, LD_PRELOAD: shim, RMESH_FULL_SNDBUF_PORT: String(dataPort) } });
    // One at a time, each once the last was taken in: a thread stuck in its flush takes in no more.
    const count = 20;
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      await sender.send(payload(i, 200), dataPort);
      const deadline = Date.now() + 2000;
      while ((await engine.counters()).datagramsIn.client < i + 1) {
        if (Date.now() > deadline) throw new Error(`datagram ${i + 1} was never taken in: the port thread is stuck (${JSON.stringify(await engine.counters())})`);
      }
    }
    const elapsed = Date.now() - started;
    let c = await engine.counters();
    const deadline = Date.now() + 2000;
    while (c.dropped.send_buffer < count * 2 && Date.now() < deadline) c = await engine.counters();
    expect(c.dropped.send_buffer, JSON.stringify(c)).toBe(count * 2);
    expect(c.datagramsOut.client).toBe(0);
    expect(a.received.length + b.received.length).toBe(0);
    // Bounded: each flush waits about 20 ms, not the send timeout, nor forever.
    expect(elapsed).toBeLessThan(count * 200);
  });
});
