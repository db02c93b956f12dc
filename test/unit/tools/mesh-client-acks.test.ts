// The SDK trusts a REGISTER_ACK only when it echoes a REGISTER (or KEEPALIVE) of the registration under
// way: an ACK captured earlier and replayed from the reflector's address cannot complete a new
// registration (which would switch the client's sending to a reflector that never bound it).
import { afterEach, describe, expect, it } from 'vitest';
import { MeshClient } from '../../../client/mesh-client.js';
import { FakeReflector } from './fake-reflector.js';

const HOST = '127.0.5.202';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MeshClient and replayed REGISTER_ACKs', () => {
  it('a replayed ACK does not complete a new registration', async () => {
    const r = new FakeReflector(HOST, false);
    r.registrationDeadlineMs = 700;
    await r.start();
    cleanups.push(() => r.stop());
    const client = new MeshClient({ join: r.join, bindAddress: HOST });
    const warnings: string[] = [];
    client.on('warning', (e) => warnings.push(e.message));
    cleanups.push(() => client.close());
    await client.join();
    let migrated = false;
    client.on('migrated', () => (migrated = true));
    const captured = r.acksSent[0]!;
    for (let i = 0; i < 100 && r.openStreams === 0; i++) await sleep(10);

    // The reflector stops receiving REGISTERs and orders a (re-)registration at itself.
    r.ignoreControl = true;
    r.sendEvent('migrate', { migrationId: 'm1', to: r.info() });
    for (let i = 0; i < 5; i++) {
      await sleep(60);
      r.sendFromData(captured.portIndex, captured.ack, captured.to);
    }
    expect(migrated).toBe(false);
    await sleep(800);
    expect(migrated).toBe(false);
    expect(warnings.join("\n")).toMatch(/migration m1 to fake failed: no REGISTER_ACK/);

    // A fresh ACK (the reflector hears REGISTERs again) completes the next one.
    r.ignoreControl = false;
    r.sendEvent('migrate', { migrationId: 'm2', to: r.info() });
    for (let i = 0; i < 50 && !migrated; i++) await sleep(20);
    expect(migrated).toBe(true);
  });
});
