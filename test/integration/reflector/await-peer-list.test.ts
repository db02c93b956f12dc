// --await-peer-list on real reflector processes (what the operator sets on its pods): /readyz answers
// 503 with the reason and /v1/status says awaitingPeerList until the first PUT /v1/peers, even when the
// reflector already met a peer by hello, and even when that list is empty (the only reflector of its
// mesh); after it, the reflector is ready, and later lists and losses are the usual membership rules.
// Without the flag a reflector alone is a mesh of one and ready at once. Addresses 127.0.15.x.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReflectorInfo, StatusResponse } from '../../../protocol/api-schemas.js';
import { FAST_TIMINGS, reflectorPorts, startReflector, stopAll, waitForFullMesh, type ReflectorProcess } from '../../support/reflector-process.js';

const started: ReflectorProcess[] = [];

async function start(address: string, options: { awaitPeerList: boolean; join?: string }): Promise<ReflectorProcess> {
  const r = await startReflector({
    ...FAST_TIMINGS,
    address,
    ...(await reflectorPorts()),
    ...(options.join ? { join: options.join } : {}),
    ...(options.awaitPeerList ? { extraArgs: ['--await-peer-list'] } : {}),
  });
  started.push(r);
  return r;
}

const infoOf = (r: ReflectorProcess): ReflectorInfo => ({ id: r.id, address: r.spec.address, dataPort: r.spec.dataPort, controlPort: r.spec.controlPort, rtp: false });

async function readiness(r: ReflectorProcess): Promise<{ status: number; reason: string; awaiting: boolean | undefined }> {
  const res = await r.request('/readyz', { token: null });
  const body = (await res.json()) as { status: string };
  const status = await r.json<StatusResponse>('/v1/status');
  return { status: res.status, reason: body.status, awaiting: status.awaitingPeerList };
}

let waiting: ReflectorProcess;
let other: ReflectorProcess;

beforeAll(async () => {
  waiting = await start('127.0.15.1', { awaitPeerList: true });
  other = await start('127.0.15.2', { awaitPeerList: false, join: waiting.controlAddress });
  await waitForFullMesh([waiting, other]);
}, 60_000);

afterAll(() => stopAll(started));

describe('--await-peer-list on real reflectors', () => {
  it('is not ready before the operator\'s list, though it has a peer by hello', async () => {
    const before = await readiness(waiting);
    expect(before).toMatchObject({ status: 503, awaiting: true });
    expect(before.reason).toMatch(/waiting for the operator's peer list/);
    // The peer met by hello, started without the flag, is ready.
    expect(await readiness(other)).toEqual({ status: 200, reason: 'admitting clients', awaiting: false });
  });

  it('is ready once the list comes, even a list it already matched', async () => {
    const put = await waiting.request('/v1/peers', { method: 'PUT', body: { peers: [infoOf(other)] } });
    expect(put.status).toBe(200);
    expect(await readiness(waiting)).toEqual({ status: 200, reason: 'admitting clients', awaiting: false });
  });

  it('stays ready with a later list, and is not ready again when a listed peer that answered is lost', async () => {
    expect((await waiting.request('/v1/peers', { method: 'PUT', body: { peers: [infoOf(other)] } })).status).toBe(200);
    // Killed, so it says no bye (a bye is leaving on purpose, not a loss): silent past the peer
    // timeout (1.5 s in tests), the usual membership rule, not the wait.
    await other.kill('SIGKILL');
    await expect.poll(async () => (await readiness(waiting)).reason, { timeout: 10_000 }).toMatch(/1 of 1 peers in the peer list unreachable/);
  });

  it('the only reflector of its mesh is ready once it is given the empty list', async () => {
    const alone = await start('127.0.15.3', { awaitPeerList: true });
    expect((await readiness(alone)).status).toBe(503);
    expect((await alone.request('/v1/peers', { method: 'PUT', body: { peers: [] } })).status).toBe(200);
    expect(await readiness(alone)).toEqual({ status: 200, reason: 'admitting clients', awaiting: false });
  });

  it('without the flag a reflector alone is a mesh of one, ready at once', async () => {
    const plain = await start('127.0.15.4', { awaitPeerList: false });
    expect(await readiness(plain)).toEqual({ status: 200, reason: 'admitting clients', awaiting: false });
  });
});
