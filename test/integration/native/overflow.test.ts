// The kernel's drops for a full receive buffer, the main loss under overload, counted as the drop reason
// receive_buffer: the engine runs in a child process that the test stops (SIGSTOP) while it sends far
// more than the socket buffer holds, then resumes; every datagram sent is then either counted in or
// dropped by the kernel. The native engine reads SO_RXQ_OVFL (the count shows once a datagram after
// the drops arrives: the test sends one more), the TypeScript engine /proc/net/udp.
import { afterEach, describe, expect, it } from 'vitest';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import type { EngineCounters } from '../../../reflector/mirror/engine.js';
import { type EngineChild, startEngineChild } from './engine-process.js';
import { freePort } from '../../support/ports.js';
import { ENGINE_ADDRESS, Endpoints, client, payload } from './harness.js';

const native = loadNativeMirror();
const kinds = native.ok ? (['native', 'js'] as const) : (['js'] as const);

describe.each(kinds)('%s engine under a receive-buffer overflow', (kind) => {
  const endpoints = new Endpoints();
  let engine: EngineChild | undefined;
  afterEach(async () => {
    engine?.kill();
    engine = undefined;
    await endpoints.closeAll();
  });

  it('counts what the kernel dropped as receive_buffer: in + receive_buffer = sent', async () => {
    const dataPort = await freePort(ENGINE_ADDRESS);
    const sender = await endpoints.open();
    // A small receive buffer for the native engine (a few datagrams); the TypeScript one keeps its own.
    engine = await startEngineChild(kind, dataPort, { clients: [client(1, sender.endpoint, 'sendonly')], peers: [] }, kind === 'native' ? { socketBufferBytes: 16384 } : {});
    engine.child.kill('SIGSTOP');
    // Far more than the buffer holds (the TypeScript engine asks for 4 MiB, doubled by the kernel).
    const sent = 6000;
    for (let i = 0; i < sent; i++) await sender.send(payload(i, 1000), dataPort);
    engine.child.kill('SIGCONT');
    // One more, queued after the drops: it carries their count (SO_RXQ_OVFL). Until the resumed engine
    // has emptied its buffer a marker may be dropped too, and then no later datagram carries the count:
    // send markers until one arrives with the books balanced.
    let last: EngineCounters | undefined;
    let markers = 0;
    const deadline = Date.now() + 10_000;
    const balanced = (c: EngineCounters) => c.datagramsIn.client + c.dropped.receive_buffer === sent + markers;
    do {
      await sender.send(payload(sent + markers++, 1000), dataPort);
      const settle = Date.now() + 300;
      do last = await engine.counters();
      while (!balanced(last) && Date.now() < settle);
    } while (!balanced(last) && Date.now() < deadline);
    expect(last.dropped.receive_buffer, JSON.stringify(last)).toBeGreaterThan(0);
    expect(last.datagramsIn.client + last.dropped.receive_buffer, JSON.stringify(last)).toBe(sent + markers);
  });
});
