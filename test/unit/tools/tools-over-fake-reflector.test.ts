// The client tools against a minimal in-process reflector: the generator's end-to-end accounting and
// the proxy's port mapping, fast. The same behaviours are shown over real reflector processes in
// test/integration/tools/.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { runGenerator } from '../../../tools/generator/generator.js';
import { RtpProxy } from '../../../tools/proxy/proxy.js';
import { PortInUseError } from '../../../tools/proxy/local-ports.js';
import { FakeReflector } from './fake-reflector.js';

const HOST = '127.0.5.200';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function reflector(rtp: boolean): Promise<FakeReflector> {
  const r = new FakeReflector(HOST, rtp);
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

async function udp(): Promise<dgram.Socket & { received: Buffer[] }> {
  const socket = Object.assign(dgram.createSocket('udp4'), { received: [] as Buffer[] });
  socket.on('message', (m) => socket.received.push(m));
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  cleanups.push(() => {
    socket.close();
  });
  return socket;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('generator over a reflector', () => {
  it('each side reports exactly what the other sent, and a known share of loss', async () => {
    const r = await reflector(false);
    const common = { join: [r.join], bitrateBps: 1_000_000, packetSize: 500, durationMs: 600, lingerMs: 200, bindAddress: HOST };
    const [a, b] = await Promise.all([
      runGenerator({ ...common, role: 'sendrecv', name: 'a' }),
      runGenerator({ ...common, role: 'sendrecv', name: 'b', dropEvery: 10 }),
    ]);
    expect(a.sent).toBeGreaterThan(100);
    // b started within a few ms of a, so each hears the whole of the other's stream.
    const fromB = a.received.sources.find((s) => s.ssrc === b.sender.ssrc)!;
    const fromA = b.received.sources.find((s) => s.ssrc === a.sender.ssrc)!;
    expect(fromA).toMatchObject({ datagrams: a.sent, lost: 0, duplicates: 0 });
    expect(b.lossPct).toBe(0);
    expect(fromB.datagrams).toBe(b.sent);
    // A datagram left out after the last one sent cannot be seen as lost.
    expect(fromB.lost).toBeGreaterThanOrEqual(b.sender.droppedOnPurpose - 1);
    expect(fromB.lost).toBeLessThanOrEqual(b.sender.droppedOnPurpose);
    expect(fromB.lossPct).toBeGreaterThan(8);
    expect(fromB.lossPct).toBeLessThan(12);
    expect(a.latencyMs.p50).toBeGreaterThan(0);
    expect(a.migrations).toEqual([]);
    expect(a.sentBytes).toBe(a.sent * 500);
  });
});

describe('RtpProxy', () => {
  it('carries RTP and RTCP from one application to another, port for port', async () => {
    const r = await reflector(true);
    const appB = await udp();
    const appBRtcp = dgram.createSocket('udp4');
    const rtcpReceived: Buffer[] = [];
    appBRtcp.on('message', (m) => rtcpReceived.push(m));
    await new Promise<void>((resolve) => appBRtcp.bind(appB.address().port + 1, HOST, resolve));
    cleanups.push(() => {
      appBRtcp.close();
    });

    const proxyB = new RtpProxy({ join: [r.join], role: 'recvonly', listen: { host: HOST, port: 0 }, deliver: { host: HOST, port: appB.address().port } });
    await proxyB.start();
    cleanups.push(() => proxyB.stop());
    const proxyA = new RtpProxy({ join: [r.join], role: 'sendonly', listen: { host: HOST, port: 0 } });
    const readyA = await proxyA.start();
    cleanups.push(() => proxyA.stop());
    expect(readyA.listen[1]!.port).toBe(readyA.listen[0]!.port + 1);
    expect(readyA.session.portCount).toBe(2);

    const appA = await udp();
    const rtp = Buffer.from([0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3]);
    const rtcp = Buffer.from([0x80, 200, 0, 6, 0, 0, 0, 7, ...new Array<number>(20).fill(0)]);
    appA.send(rtp, readyA.listen[0]!.port, HOST);
    appA.send(rtcp, readyA.listen[1]!.port, HOST);
    await until(() => appB.received.length === 1 && rtcpReceived.length === 1, 'RTP and RTCP at application B');
    expect(appB.received[0]).toEqual(rtp);
    expect(rtcpReceived[0]).toEqual(rtcp);
    expect(proxyA.stats().fromApplication).toEqual([1, 1]);
    expect(proxyB.stats().toApplication).toEqual([1, 1]);
  });

  it('without --deliver sends the mesh traffic back to where the application sends from', async () => {
    const r = await reflector(false);
    const proxyA = new RtpProxy({ join: [r.join], role: 'sendrecv', listen: { host: HOST, port: 0 }, rtcp: false });
    const proxyB = new RtpProxy({ join: [r.join], role: 'sendrecv', listen: { host: HOST, port: 0 }, rtcp: false });
    const [a, b] = [await proxyA.start(), await proxyB.start()];
    cleanups.push(() => proxyA.stop(), () => proxyB.stop());
    const appA = await udp();
    const appB = await udp();
    appA.send(Buffer.from([0x80, 0, 0, 1]), a.listen[0]!.port, HOST); // A latches; nobody hears it yet
    await until(() => proxyA.stats().fromApplication[0] === 1, 'the proxy to take A’s datagram');
    appB.send(Buffer.from([0x80, 0, 0, 2]), b.listen[0]!.port, HOST);
    await until(() => appA.received.length === 1, 'B’s datagram at A');
    expect(appA.received[0]).toEqual(Buffer.from([0x80, 0, 0, 2]));
    // A's datagram reached proxy B before application B had sent anything: nowhere to deliver it.
    expect(appB.received).toEqual([]);
    expect(proxyB.stats().dropped.noDestination).toBe(1);
  });

  it('drops RTCP, with one warning, when the mesh has no RTCP port', async () => {
    const r = await reflector(false);
    const proxy = new RtpProxy({ join: [r.join], role: 'sendrecv', listen: { host: HOST, port: 0 } });
    const warnings: Error[] = [];
    proxy.on('warning', (e) => warnings.push(e));
    const ready = await proxy.start();
    cleanups.push(() => proxy.stop());
    expect(ready.session.portCount).toBe(1);
    const app = await udp();
    for (let i = 0; i < 3; i++) app.send(Buffer.from([0x80, 200, 0, 0]), ready.listen[1]!.port, HOST);
    await until(() => proxy.stats().dropped.noRtcpInMesh === 3, 'three RTCP datagrams dropped');
    expect(warnings.map((w) => w.message)).toEqual([expect.stringContaining('not in RTP mode')]);
  });

  it('names a taken port and suggests a free pair', async () => {
    const r = await reflector(true);
    const holder = await udp();
    const taken = holder.address().port;
    const proxy = new RtpProxy({ join: [r.join], role: 'sendrecv', listen: { host: HOST, port: taken - 1 } });
    const error = await proxy.start().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as PortInUseError).port).toBe(taken);
    expect((error as PortInUseError).message).toContain(`UDP port ${taken} on ${HOST} is already in use`);
    const suggestion = (error as PortInUseError).suggestion!;
    expect(suggestion).toBeGreaterThan(taken);
    // The suggestion really is free: a proxy starts there.
    const retry = new RtpProxy({ join: [r.join], role: 'sendrecv', listen: { host: HOST, port: suggestion } });
    await retry.start();
    cleanups.push(() => retry.stop());
    expect(r.sessions.size).toBe(1); // the failed start joined nobody
  });

  it('says why the mesh refused it', async () => {
    const proxy = new RtpProxy({ join: [`${HOST}:1`], role: 'sendrecv', listen: { host: HOST, port: 0 } });
    await expect(proxy.start()).rejects.toThrow(/no reflector answered: .*check that --join names a running reflector/);
  });
});
