import { describe, expect, it, vi } from 'vitest';
import { Migrations, type MigrationHost, type MigrationResult } from '../../../reflector/migration.js';
import { Sessions } from '../../../reflector/sessions.js';
import { ApiError } from '../../../protocol/errors.js';
import { MeshError } from '../../../client/types.js';

const target = { id: 'b', address: '192.0.2.2', dataPort: 5004, controlPort: 7400, rtp: false };

function setup(admit: MigrationHost['admitAt'] = () => Promise.resolve()) {
  const sessions = new Sessions();
  const session = sessions.create({ role: 'sendrecv' }, 0);
  session.state = 'active';
  const results: MigrationResult[] = [];
  const ended: number[] = [];
  const tableChanged = vi.fn();
  const host: MigrationHost = {
    selfId: 'a',
    registrationDeadlineMs: 1000,
    graceMs: 500,
    admitAt: admit,
    tableChanged,
    endSession: (s) => ended.push(s.id),
    recorded: (r) => results.push(r),
  };
  const sent: [string, unknown][] = [];
  session.events.send = (name: string, data: unknown) => sent.push([name, data]);
  return { sessions, session, tableChanged, results, ended, sent, migrations: new Migrations(host) };
}

describe('Migrations', () => {
  it('admits at the target, orders the client, and on moved stops delivery, then ends the session after the grace period', async () => {
    vi.useFakeTimers();
    const t = setup();
    const done = t.migrations.migrate(t.session, target);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.sent).toHaveLength(1);
    const [name, order] = t.sent[0]! as [string, { migrationId: string; to: unknown }];
    expect(name).toBe('migrate');
    expect(order.to).toEqual(target);
    expect(t.migrations.moved(t.session, 'some other id')).toBe(false);
    expect(t.migrations.moved(t.session, order.migrationId)).toBe(true);
    await expect(done).resolves.toMatchObject({ migrationId: order.migrationId });
    expect(t.results).toEqual(['ok']);
    // Delivery goes on for an overlap (half the grace here), so peer copies in flight still arrive.
    expect(t.session.state).toBe('active');
    expect(t.tableChanged).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(250);
    expect(t.session.state).toBe('departing');
    expect(t.tableChanged).toHaveBeenCalledOnce();
    expect(t.ended).toEqual([]);
    await vi.advanceTimersByTimeAsync(250);
    expect(t.ended).toEqual([t.session.id]);
    vi.useRealTimers();
  });

  it('answers 504 when the client does not register in time, keeps it, and still honours a late moved', async () => {
    vi.useFakeTimers();
    const t = setup();
    const done = t.migrations.migrate(t.session, target).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    const err = await done;
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).statusCode).toBe(504);
    expect(t.session.state).toBe('active');
    expect(t.results).toEqual(['timeout']);
    const { migrationId } = t.sent[0]![1] as { migrationId: string };
    expect(t.migrations.moved(t.session, migrationId)).toBe(true);
    await vi.advanceTimersByTimeAsync(250);
    expect(t.session.state).toBe('departing');
    vi.useRealTimers();
  });

  it('refuses a second migration while one runs, and a client that is not active', async () => {
    const t = setup(() => new Promise(() => {}));
    void t.migrations.migrate(t.session, target);
    await expect(t.migrations.migrate(t.session, target)).rejects.toMatchObject({ statusCode: 409, code: 'RMESH_MIGRATING' });
    const other = t.sessions.create({ role: 'recvonly' }, 0);
    await expect(t.migrations.migrate(other, target)).rejects.toMatchObject({ statusCode: 409, code: 'RMESH_NOT_ACTIVE' });
  });

  it('reports a target that refuses, and leaves the client where it is', async () => {
    const t = setup(() => Promise.reject(new MeshError('full', 'RMESH_REFLECTOR_FULL', 503)));
    await expect(t.migrations.migrate(t.session, target)).rejects.toMatchObject({ statusCode: 503, code: 'RMESH_REFLECTOR_FULL' });
    expect(t.session.outgoing).toBeUndefined();
    expect(t.results).toEqual(['refused']);
    expect(t.sent).toEqual([]);
  });

  it('hands the target the nonces already used, so the client\'s old control datagrams are stale there', async () => {
    vi.useFakeTimers();
    let body: unknown;
    const t = setup((_peer, b) => {
      body = b;
      return Promise.resolve();
    });
    t.session.lastNonce = [1_700_000_000_123n, 7n];
    const done = t.migrations.migrate(t.session, target).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    expect(body).toMatchObject({ clientId: t.session.idText, nonces: ['1700000000123', '7'] });
    await vi.advanceTimersByTimeAsync(1000);
    await done;
    vi.useRealTimers();
  });
});
