// `rmesh client` over a real mesh of two `rmesh reflector` processes: the contract (one JSON document,
// exit 0), reports that agree with what was sent, a known share of loss shown as such, and bad flags.
// Receivers run until Ctrl-C (SIGINT), sent once the sender is done, so a slow start on a loaded
// machine cannot cut the stream short.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { sleep } from '../../support/wait.js';
import type { ClientReport } from '../../../tools/generator/report.js';
import { activeClient, activeClients, finishClient, runClient, startClient as startBackgroundClient, type Background } from './tool-process.js';

const running: Background[] = [];
function startClient(args: string[]): Background {
  const b = startBackgroundClient(args);
  running.push(b);
  return b;
}

describe('rmesh client over a mesh of two reflectors', () => {
  let mesh: ReflectorProcess[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.5.', firstHost: 1, common: { registrationDeadline: '5s' } });
  });
  afterAll(async () => {
    // A client left running would fail over to the next test's reflectors on the same ports.
    await Promise.all(running.map((b) => b.stop('SIGKILL')));
    await stopAll(mesh);
  });

  it('meets the contract, and the receiver counts exactly what the sender sent', async () => {
    // The receiver is placed on the other reflector (fewest clients), so the stream crosses both.
    const receiving = startClient(['--join', mesh[1]!.controlAddress, '--role', 'recvonly', '--bind', '127.0.5.10', '--name', 'rx']);
    const rx = await activeClient(mesh, 'rx');
    const contract = await runCli(
      ['client', '--join', mesh[0]!.controlAddress, '--bitrate', '2Mbps', '--packet-size', '1200', '--duration', '5s', '--report', 'json', '--bind', '127.0.5.11'],
      {},
      60_000,
    );
    expect(contract.code, contract.stderr).toBe(0);
    const sender = JSON.parse(contract.stdout) as ClientReport;
    for (const key of ['sent', 'received', 'lossPct', 'latencyMs', 'jitterMs', 'migrations', 'failovers']) expect(sender).toHaveProperty(key);
    expect(sender.received).toHaveProperty('total');
    expect(sender.received).toHaveProperty('sources');
    expect(sender.latencyMs).toHaveProperty('p50');
    expect(sender.latencyMs).toHaveProperty('p99');
    // 2 Mbit/s of 1200-byte datagrams for 5 s is about 1042 datagrams.
    expect(sender.sent).toBeGreaterThan(900);
    expect(sender.sentBytes).toBe(sender.sent * 1200);
    expect(sender.reflector).toBe(mesh[0]!.id);

    // The receiver reports only when it ends: give the sender's last datagrams time to reach it.
    await sleep(500);
    const receiver = await finishClient(receiving);
    expect(receiver.role).toBe('recvonly');
    expect(receiver.sent).toBe(0);
    expect(receiver.reflector).toBe(rx.reflector.id);
    expect(receiver.reflector).not.toBe(sender.reflector);
    expect(receiver.received.sources).toHaveLength(1);
    const source = receiver.received.sources[0]!;
    expect(source.ssrc).toBe(sender.sender.ssrc);
    expect(source.clientId).toBe(sender.clientId);
    expect(source).toMatchObject({ datagrams: sender.sent, bytes: sender.sentBytes, expected: sender.sent, lost: 0, duplicates: 0 });
    expect(receiver.lossPct).toBe(0);
    expect(receiver.received.total).toBe(sender.sent);
    expect(receiver.latencyMs.p50).toBeGreaterThan(0);
    expect(receiver.latencyMs.p99).toBeGreaterThanOrEqual(receiver.latencyMs.p50);
    expect(receiver.jitterMs).toBeGreaterThanOrEqual(0);
  });

  it('shows a known share of loss: a sender leaving out every 10th datagram', async () => {
    const receiving = startClient(['--join', mesh[1]!.controlAddress, '--role', 'recvonly', '--bind', '127.0.5.12', '--name', 'rx-loss']);
    await activeClient(mesh, 'rx-loss');
    const sender = await runClient(['--join', mesh[1]!.controlAddress, '--role', 'sendonly', '--bitrate', '1Mbps', '--packet-size', '500', '--duration', '3s', '--drop-every', '10', '--bind', '127.0.5.13']);
    await sleep(500); // the last datagrams in flight (the receiver reports only when it ends)
    const receiver = await finishClient(receiving);
    const dropped = sender.sender.droppedOnPurpose;
    expect(dropped).toBe(Math.floor((sender.sent + dropped) / 10));
    const source = receiver.received.sources[0]!;
    expect(source.datagrams).toBe(sender.sent);
    // A left-out datagram after the last one sent cannot be seen as lost.
    expect(source.lost).toBeGreaterThanOrEqual(dropped - 1);
    expect(source.lost).toBeLessThanOrEqual(dropped);
    expect(receiver.lossPct).toBeGreaterThan(9);
    expect(receiver.lossPct).toBeLessThan(11);
  });

  it('a sendrecv pair: each hears the other, never itself', async () => {
    const args = ['--bitrate', '500kbps', '--packet-size', '200'];
    const a = startClient(['--join', mesh[0]!.controlAddress, '--name', 'a', '--bind', '127.0.5.14', ...args]);
    const b = startClient(['--join', mesh[0]!.controlAddress, '--name', 'b', '--bind', '127.0.5.15', ...args]);
    await activeClients(mesh, 2); // (the one placed on the other reflector is listed without its name)
    await sleep(2000); // two seconds of traffic both ways
    const [ra, rb] = await Promise.all([finishClient(a), finishClient(b)]);
    const fromB = ra.received.sources.find((s) => s.ssrc === rb.sender.ssrc);
    const fromA = rb.received.sources.find((s) => s.ssrc === ra.sender.ssrc);
    expect(fromA?.datagrams).toBeGreaterThan(0);
    expect(fromB?.datagrams).toBeGreaterThan(0);
    expect(ra.received.sources).toHaveLength(1); // never its own stream
    expect(fromA!.lost + fromB!.lost).toBe(0);
  });

  it('bad flags exit 2 with a clear message', async () => {
    for (const [args, message] of [
      [['--bitrate', 'fast'], /not a bitrate/],
      [['--packet-size', '8'], /outside 32-65507/],
      [['--role', 'sometimes'], /sometimes/],
      [['--duration', '-1s'], /duration/],
      [['--report', 'xml'], /xml/],
    ] as const) {
      const result = await runCli(['client', '--join', mesh[0]!.controlAddress, ...args], {}, 30_000);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const noJoin = await runCli(['client'], { RMESH_JOIN: '' }, 30_000);
    expect(noJoin.code).toBe(2);
    expect(noJoin.stderr).toMatch(/--join/);
  });

  it('says so and exits 1 when no reflector answers', async () => {
    const result = await runCli(['client', '--join', '127.0.5.99:40999', '--duration', '1s'], {}, 30_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no reflector answered.*--join/);
  });
});
