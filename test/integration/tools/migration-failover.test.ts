// Migration and failover as `rmesh client` sees them, over real reflector processes: a migration by the
// admin API loses nothing (make before break) and its gap is reported; a failover after SIGKILL of the
// client's reflector is reported with its gap and the datagrams lost in it. The clients run until the
// test has seen traffic resume, then get Ctrl-C and print their reports.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { sleep } from '../../support/wait.js';
import { activeClient, activeClients, finishClient, startClient, type Background } from './tool-process.js';

const running: Background[] = [];
afterAll(async () => {
  await Promise.all(running.map((b) => b.stop('SIGKILL')));
});

function client(args: string[]): Background {
  const b = startClient(args);
  running.push(b);
  return b;
}

describe('a migration by the admin API, seen by rmesh client', () => {
  let mesh: ReflectorProcess[] = [];
  beforeAll(async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.5.', firstHost: 21, common: { registrationDeadline: '5s' } });
  });
  afterAll(async () => {
    await stopAll(mesh);
  });

  it('loses nothing, and the report shows the migration with its gap', async () => {
    const [r0, r1] = [mesh[0]!, mesh[1]!];
    const args = ['--bitrate', '2Mbps', '--packet-size', '1200', '--linger', '500ms'];
    // Each joins through its own reflector: with the fewest clients (or a tie), the one asked keeps it.
    const moving = client(['--join', r0.controlAddress, '--name', 'mover', '--bind', '127.0.5.30', ...args]);
    const { reflector: before, clientId: moverId } = await activeClient([r0], 'mover');
    expect(before).toBe(r0);
    const staying = client(['--join', r1.controlAddress, '--name', 'stayer', '--bind', '127.0.5.31', ...args]);
    await activeClient([r1], 'stayer');
    await sleep(1500); // traffic flows both ways

    const result = await r0.json<{ migrationId: string; durationMs: number }>(`/v1/clients/${moverId}/migrate`, { body: { to: r1.id } });
    expect(result.migrationId).toBeTruthy();
    await activeClient([r1], moverId); // a migrated client is listed by id
    await sleep(1500); // traffic after the migration

    const [mover, stayer] = await Promise.all([finishClient(moving), finishClient(staying)]);
    expect(mover.clientId).toBe(moverId);
    expect(mover.reflector).toBe(r1.id);
    expect(mover.migrations).toHaveLength(1);
    const migration = mover.migrations[0]!;
    expect(migration).toMatchObject({ kind: 'migration', from: r0.id, to: r1.id, lost: 0 });
    expect(typeof migration.gapMs).toBe('number');
    expect(migration.gapMs).toBeGreaterThan(0);
    expect(mover.failovers).toEqual([]);

    // Zero loss both ways: the mover heard all of the stayer's stream, the stayer all of the mover's.
    const fromStayer = mover.received.sources.find((s) => s.ssrc === stayer.sender.ssrc)!;
    const fromMover = stayer.received.sources.find((s) => s.ssrc === mover.sender.ssrc)!;
    expect(fromStayer.lost).toBe(0);
    expect(fromMover.lost).toBe(0);
    // The stayer's stream flowed before, during and after the migration.
    expect(fromStayer.firstMs).toBeLessThan(migration.atMs);
    expect(fromStayer.lastMs).toBeGreaterThan(migration.atMs + migration.durationMs + 1000);
    expect(mover.lossPct).toBe(0);
    expect(stayer.lossPct).toBe(0);
  });
});

describe('a failover after SIGKILL of the client’s reflector, seen by rmesh client', () => {
  let mesh: ReflectorProcess[] = [];
  beforeAll(async () => {
    mesh = await startMesh({ size: 3, addressPrefix: '127.0.5.', firstHost: 41, common: { registrationDeadline: '5s' } });
  });
  afterAll(async () => {
    await stopAll(mesh);
  });

  it('reports the failover with its gap and the datagrams lost in it, and traffic resumes', async () => {
    const [r0, r1, r2] = [mesh[0]!, mesh[1]!, mesh[2]!];
    const args = ['--bitrate', '1Mbps', '--packet-size', '500', '--linger', '500ms', '--failover-timeout', '1s'];
    const orphaning = client(['--join', r0.controlAddress, '--name', 'orphan', '--bind', '127.0.5.50', ...args]);
    await activeClient([r0], 'orphan');
    const steady = client(['--join', r1.controlAddress, '--name', 'steady', '--bind', '127.0.5.51', ...args]);
    await activeClient([r1], 'steady');
    await sleep(2000); // traffic flows before the kill

    const killed = await r0.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await activeClients([r1, r2], 2); // a failover is a fresh join: a new id, maybe placed by a peer
    await sleep(2000); // traffic after the failover

    const [orphan, other] = await Promise.all([finishClient(orphaning), finishClient(steady)]);
    expect(orphan.failovers).toHaveLength(1);
    const failover = orphan.failovers[0]!;
    expect(failover).toMatchObject({ kind: 'failover', from: r0.id, reason: 'silent' });
    expect(failover.to).not.toBe(r0.id);
    expect(orphan.reflector).toBe(failover.to);
    expect(failover.gapMs).toBeGreaterThan(0);
    // The steady client's datagrams sent to the dead reflector are lost, and all of the orphan's loss is
    // attributed to the failover.
    expect(failover.lost).toBeGreaterThan(0);
    expect(failover.lost).toBe(orphan.received.lost);

    // Traffic resumed after the failover, both ways.
    const fromSteady = orphan.received.sources.find((s) => s.ssrc === other.sender.ssrc)!;
    expect(fromSteady.lastMs).toBeGreaterThan(failover.atMs + failover.durationMs);
    const fromOrphan = other.received.sources.find((s) => s.ssrc === orphan.sender.ssrc)!;
    // What the orphan sent to its dead reflector, or could not send while failing over, never arrived.
    expect(fromOrphan.lost).toBeGreaterThan(0);
    expect(fromOrphan.datagrams).toBeLessThan(orphan.sent);
    expect(fromOrphan.expected).toBeLessThanOrEqual(orphan.sent + orphan.sender.droppedDuringFailover);
    expect(other.failovers).toEqual([]);
  });
});
