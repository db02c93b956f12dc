// The kernel's drops for a full receive buffer, the main loss under overload, counted as the drop reason
// receive_buffer: the engine runs in a child process that the test stops (SIGSTOP) while it sends far
// more than the socket buffer holds, then resumes; every datagram sent is then either counted in or
// dropped by the kernel. The native engine reads SO_RXQ_OVFL (the count shows once a datagram after
// the drops arrives: the test sends one more), the TypeScript engine /proc/net/udp.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import type { Endpoint, EngineCounters } from '../../../reflector/mirror/engine.js';
import { ENGINE_ADDRESS, Endpoints, payload } from './harness.js';

const native = loadNativeMirror();
const kinds = native.ok ? (['native', 'js'] as const) : (['js'] as const);

/** Starts the child and resolves once it serves; `counters()` asks it for its counters. */
async function startChild(kind: string, dataPort: number, client: Endpoint): Promise<{ child: ChildProcessWithoutNullStreams; counters: () => Promise<EngineCounters> }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'overflow-child.js'), kind, ENGINE_ADDRESS, String(dataPort), client.address, String(client.port)]);
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = await Promise.race([next(), new Promise<string>((resolve) => child.once('exit', () => resolve(`exited: ${stderr}`)))]);
  expect(ready).toBe('ready');
  return {
    child,
    counters: async () => {
      const reply = next();
      child.stdin.write('counters\n');
      return JSON.parse(await reply) as EngineCounters;
    },
  };
}

describe.each(kinds)('%s engine under a receive-buffer overflow', (kind) => {
  const endpoints = new Endpoints();
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(async () => {
    child?.kill('SIGCONT');
    child?.kill('SIGKILL');
    child = undefined;
    await endpoints.closeAll();
  });

  it('counts what the kernel dropped as receive_buffer: in + receive_buffer = sent', async () => {
    const dataPort = kind === 'native' ? 35960 : 35970;
    const sender = await endpoints.open();
    const started = await startChild(kind, dataPort, sender.endpoint);
    child = started.child;
    child.kill('SIGSTOP');
    // Far more than the buffer holds (the TypeScript engine asks for 4 MiB, doubled by the kernel).
    const sent = 6000;
    for (let i = 0; i < sent; i++) await sender.send(payload(i, 1000), dataPort);
    child.kill('SIGCONT');
    let last: EngineCounters | undefined;
    // One more, queued after the drops: it carries their count (SO_RXQ_OVFL).
    await sender.send(payload(sent, 1000), dataPort);
    const settled = async (): Promise<boolean> => {
      last = await started.counters();
      return last.datagramsIn.client + last.dropped.receive_buffer === sent + 1;
    };
    const deadline = Date.now() + 5000;
    while (!(await settled()) && Date.now() < deadline);
    expect(last?.dropped.receive_buffer, JSON.stringify(last)).toBeGreaterThan(0);
    expect(last!.datagramsIn.client + last!.dropped.receive_buffer, JSON.stringify(last)).toBe(sent + 1);
  });
});
