// Edges of the native packet loop that only show under load: an activity line handed to a new client
// while a packet thread still works on the old table, copies the kernel refuses, and zero-byte datagrams
// in a burst. Copies to REFUSED endpoints fail in the kernel (a broadcast address without
// SO_BROADCAST: EACCES, or ENETUNREACH where there is no route), so nothing leaves the host, and a
// datagram fanned out to a thousand of them keeps the packet thread busy for a millisecond or so: the
// window in which the races below used to show.
import { afterEach, describe, expect, it } from 'vitest';
import { NativeEngine } from '../../../reflector/native/native-engine.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import type { Endpoint, ForwardingTable } from '../../../reflector/mirror/engine.js';
import { freePort } from '../../support/ports.js';
import { sleep, waitFor } from '../../support/wait.js';
import { ENGINE_ADDRESS, Endpoints, type Station, client, payload } from './harness.js';

const native = loadNativeMirror();
const FANOUT = 1000;
const REFUSED = (i: number): Endpoint => ({ address: '255.255.255.255', port: 1000 + i });

/** The sender, FANOUT receivers the kernel refuses (ids from base), and optionally one real listener. */
function refusedTable(sender: Station, base: number, listener?: Station): ForwardingTable {
  const refused = Array.from({ length: FANOUT }, (_, i) => client(base + i, REFUSED(i), 'recvonly'));
  return { clients: [client(1, sender.endpoint, 'sendonly'), ...refused, ...(listener ? [client(2, listener.endpoint, 'recvonly')] : [])], peers: [] };
}

/**
 * Keeps `sender` sending small datagrams to the engine until the returned stop() is called: the next one
 * once the engine has handled the last (`copies` copies each, sent or refused), so the packet thread is
 * busy most of the time and never builds a backlog.
 */
function keepSending(engine: NativeEngine, sender: Station, port: number, copies: number): () => Promise<void> {
  let stop = false;
  const done = (async () => {
    for (let sent = 0; !stop; ) {
      const c = engine.counters();
      if (c.dropped.send_error + c.datagramsOut.client >= sent * copies) sender.socket.send(payload(sent++, 100), port, ENGINE_ADDRESS);
      await sleep(1);
    }
  })();
  return async () => {
    stop = true;
    await done;
  };
}

describe.runIf(native.ok)('native engine edges', () => {
  const endpoints = new Endpoints();
  let engine: NativeEngine | undefined;
  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    await endpoints.closeAll();
  });

  it('hands a reused activity line to its new client clean, whatever the old table still does with it', async () => {
    const dataPort = await freePort(ENGINE_ADDRESS);
    // Exactly enough lines: every table swap gives all the receivers' lines to new clients.
    engine = new NativeEngine({ address: ENGINE_ADDRESS, dataPort, rtp: false, maxDatagramSize: 1472 }, undefined, { slots: FANOUT + 1 });
    await engine.start();
    const sender = await endpoints.open();
    engine.setTable(refusedTable(sender, 10_000));
    const stop = keepSending(engine, sender, dataPort, FANOUT);
    const dirty: string[] = [];
    for (let round = 1; round <= 120 && dirty.length === 0; round++) {
      const base = 10_000 * (round + 1);
      engine.setTable(refusedTable(sender, base));
      for (const wait of [0, 1, 3]) {
        await sleep(wait);
        // The new clients neither send nor receive anything (every copy to them fails).
        for (let i = 0; i < FANOUT; i++) {
          const a = engine.clientActivity(base + i)!;
          if (a.datagramsIn !== 0 || a.datagramsOut !== 0) dirty.push(`round ${round} client ${base + i}: in ${a.datagramsIn} out ${a.datagramsOut}`);
        }
      }
    }
    await stop();
    expect(engine.counters().dropped.send_error).toBeGreaterThan(0);
    expect(dirty.slice(0, 5)).toEqual([]);
  });

  it('never lets a sent counter fall: a copy counts when the kernel took it, a refused one as send_error', async () => {
    const dataPort = await freePort(ENGINE_ADDRESS);
    engine = new NativeEngine({ address: ENGINE_ADDRESS, dataPort, rtp: false, maxDatagramSize: 1472 }, undefined, { slots: FANOUT + 2 });
    await engine.start();
    const [sender, listener] = await Promise.all([endpoints.open(), endpoints.open()]);
    engine.setTable(refusedTable(sender, 10_000, listener));
    const stop = keepSending(engine, sender, dataPort, FANOUT + 1);
    const falls: string[] = [];
    let last = engine.counters();
    for (let round = 0; round < 200 && falls.length === 0; round++) {
      // A scrape at any moment: sample hard for 2 ms, then let the sender run.
      const until = performance.now() + 2;
      while (performance.now() < until) {
        const now = engine.counters();
        if (now.datagramsOut.client < last.datagramsOut.client || now.bytesOut.client < last.bytesOut.client)
          falls.push(`datagramsOut ${last.datagramsOut.client} -> ${now.datagramsOut.client}, bytesOut ${last.bytesOut.client} -> ${now.bytesOut.client}`);
        if (now.dropped.send_error < last.dropped.send_error) falls.push(`send_error ${last.dropped.send_error} -> ${now.dropped.send_error}`);
        last = now;
      }
      await sleep(1);
    }
    await stop();
    expect(falls.slice(0, 5)).toEqual([]);
    // Every datagram in went to the listener and was refused for the thousand others.
    const settled = (): boolean => {
      const c = engine!.counters();
      return c.datagramsOut.client === c.datagramsIn.client && c.dropped.send_error === c.datagramsIn.client * FANOUT && listener.received.length === c.datagramsOut.client;
    };
    await waitFor(settled, { what: 'every datagram in sent to the listener, and refused for the others', timeoutMs: 3000, intervalMs: 5 }).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(engine!.counters())}, listener got ${listener.received.length} ${JSON.stringify(engine!.engineStats())}`);
    });
    expect(engine.counters().datagramsIn.client).toBeGreaterThan(0);
  });

  it('sends a burst of zero-byte datagrams one by one (a GSO segment size of 0 means no segmentation)', async () => {
    const dataPort = await freePort(ENGINE_ADDRESS);
    engine = new NativeEngine({ address: ENGINE_ADDRESS, dataPort, rtp: false, maxDatagramSize: 1472 }, undefined, { gso: true, slots: FANOUT + 2 });
    await engine.start();
    const [sender, listener] = await Promise.all([endpoints.open(), endpoints.open()]);
    listener.socket.setRecvBufferSize(8 << 20);
    // The refused receivers keep the thread busy after the first datagram, so the rest queue up and
    // arrive in few batches: runs of one sender that GSO would group.
    engine.setTable(refusedTable(sender, 10_000, listener));
    const count = 200;
    for (let i = 0; i < count; i++) sender.socket.send(Buffer.alloc(0), dataPort, ENGINE_ADDRESS);
    await waitFor(() => engine!.counters().datagramsIn.client === count, { what: 'the burst in', timeoutMs: 10_000, intervalMs: 5 });
    // Each datagram fans out to the refused receivers first: the last copies reach the listener well
    // after the last datagram came in (on a busy machine, over 100 ms after). Wait for them, not a time.
    await waitFor(() => listener.received.length >= count, { what: 'the whole burst at the listener', timeoutMs: 10_000 }).catch(() => undefined);
    expect(engine.engineStats().batches).toBeLessThan(count);
    expect(listener.received.map((r) => r.data.length)).toEqual(new Array<number>(count).fill(0));
  });
});
