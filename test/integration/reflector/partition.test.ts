// A reflector cut off from the network for longer than the peer timeout, then reconnected (issue 13,
// findings 2 and 3). Each reflector is a test host of its own (test/support/test-hosts.ts); the cut is
// iptables DROP of everything but loopback inside the cut host's namespace. While cut, its peers drop
// it, its clients fail over (their old sessions stay there: it cannot hear them leave) and its /readyz
// says it is cut off. Reconnected, the mesh must be whole again by itself within a stated bound, and
// no client may receive its own datagrams through the session it left there. Both data planes.
//
// The test attaches its own network namespace to the test network: in the machine's root namespace the
// file runs itself again in a private one (test/support/private-namespace.ts).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TIMINGS, startReflector, stopAll, waitForFullMesh, type ReflectorProcess, type ReflectorSpec } from '../../support/reflector-process.js';
import { sleep, waitFor } from '../../support/wait.js';
import { closeClients, joinClients, TrafficLoop, type TestClient } from '../../support/mesh-traffic.js';
import { rerunInPrivateNamespace } from '../../support/private-namespace.js';
import { TestNetwork, type TestHost } from '../../support/test-hosts.js';

const KEEPALIVE_MS = 200;
const PEER_TIMEOUT_MS = 1500;
/** How long the link stays cut: the experiment's parameter, past the peer timeout and the SDK's 3 s request timeout (its leave of the old session must fail). */
const CUT_MS = 5000;
/** Healing bound: the backoff's cap (the peer timeout) plus three keep-alive ticks (jitter, the hello's round trip). */
const HEAL_BOUND_MS = PEER_TIMEOUT_MS + 3 * KEEPALIVE_MS;
const MAX_AGE_MS = 500;
const LATE_MS = MAX_AGE_MS + 500;
const THIS_FILE = fileURLToPath(import.meta.url);

/** Drops everything in and out of the host's namespace but its loopback (a probe from inside still works). */
async function cut(host: TestHost): Promise<void> {
  for (const [chain, dir] of [['INPUT', '-i'], ['OUTPUT', '-o']] as const) {
    await host.exec('iptables', ['-A', chain, dir, 'lo', '-j', 'ACCEPT']);
    await host.exec('iptables', ['-A', chain, '-j', 'DROP']);
  }
}

async function reconnect(host: TestHost): Promise<void> {
  for (const chain of ['INPUT', 'OUTPUT']) await host.exec('iptables', ['-F', chain]);
}

/** GET /readyz of the reflector in `host`, asked from inside its namespace (the only way in while cut). */
async function readyzFromInside(host: TestHost, r: ReflectorProcess): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(r.url('/readyz'))}, { signal: AbortSignal.timeout(2000) }).then(async (x) => console.log(JSON.stringify({ status: x.status, body: await x.text() })))`;
  const { stdout } = await host.exec(process.execPath, ['-e', script]);
  return JSON.parse(stdout) as { status: number; body: string };
}

if (!rerunInPrivateNamespace(THIS_FILE, 240_000)) {
  describe.each([
    { dataPlane: 'native' as const, net: 71 },
    { dataPlane: 'js' as const, net: 72 },
  ])('a reflector cut off past the peer timeout ($dataPlane data plane)', ({ dataPlane, net }) => {
    let network: TestNetwork;
    const hosts: TestHost[] = [];
    let mesh: ReflectorProcess[] = [];
    let clients: TestClient[] = [];

    beforeAll(async () => {
      network = await TestNetwork.create({ prefixLength: 24 });
      for (const h of [1, 2, 3]) hosts.push(await network.addHost(`r${h}`, { address: `198.18.${net}.${h}` })); // one at a time: addHost names the bridge ports in order
      await network.attachCaller(`198.18.${net}.100`);
      const spec = (i: number, join?: string): ReflectorSpec => ({
        ...FAST_TIMINGS,
        address: hosts[i]!.address,
        dataPort: 5004,
        controlPort: 7400,
        netns: hosts[i]!.namespace,
        dataPlane,
        clientIdleTimeout: '30s',
        extraArgs: ['--max-datagram-age', `${MAX_AGE_MS}ms`],
        ...(join ? { join } : {}),
      });
      const first = await startReflector(spec(0));
      mesh = [first, ...(await Promise.all([1, 2].map((i) => startReflector(spec(i, first.controlAddress)))))];
      await waitForFullMesh(mesh);
      clients = await joinClients(6, (i) => ({ join: mesh[i % 3]!.controlAddress, bindAddress: `198.18.${net}.100`, failoverTimeoutMs: 1000 }));
      for (const c of clients) c.lateAfterMs = LATE_MS;
    });

    afterAll(async () => {
      closeClients(clients);
      await stopAll(mesh);
      await network?.destroy();
    });

    it('heals by itself once reconnected; the cut-off one says so on /readyz; no client gets its own datagrams', async () => {
      const victim = mesh[1]!;
      const victimHost = hosts[1]!;
      const survivors = [mesh[0]!, mesh[2]!];
      const orphans = clients.filter((c) => c.client.reflector?.id === victim.id);
      expect(orphans).toHaveLength(2);
      const traffic = new TrafficLoop(clients);
      await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index) > 0)), { what: 'traffic between every pair' });

      await cut(victimHost);
      const cutAt = Date.now();
      await waitFor(
        async () => (await Promise.all(survivors.map((s) => s.json<{ peers: { id: string }[] }>('/v1/peers')))).every((v) => v.peers.every((p) => p.id !== victim.id)),
        { timeoutMs: 10_000, what: 'the survivors to drop the cut-off reflector' },
      );
      await waitFor(() => orphans.every((c) => c.client.reflector !== undefined && c.client.reflector.id !== victim.id), { timeoutMs: 10_000, what: 'its clients to fail over' });
      let readiness = { status: 0, body: '' };
      await waitFor(async () => (readiness = await readyzFromInside(victimHost, victim)).status === 503, { timeoutMs: 10_000, what: 'the cut-off reflector to say it is not ready' });
      expect(readiness.body).toMatch(/cut off from the mesh/);
      for (const s of survivors) expect((await s.request('/readyz')).status, `${s.id} still ready`).toBe(200);
      // The cut's length is what is tested, not a synchronisation.
      await sleep(Math.max(0, CUT_MS - (Date.now() - cutAt)));

      await reconnect(victimHost);
      const reconnectedAt = Date.now();
      await waitForFullMesh(mesh, HEAL_BOUND_MS);
      console.log(`${dataPlane}: cut ${reconnectedAt - cutAt} ms; full mesh again ${Date.now() - reconnectedAt} ms after reconnecting (bound ${HEAL_BOUND_MS} ms)`);
      for (const r of mesh) expect((await r.request('/readyz')).status, `${r.id} ready again`).toBe(200);

      const after = traffic.sequence;
      await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index, after) > 20)), { timeoutMs: 10_000, what: 'traffic after the heal' });
      await traffic.stop();

      // The orphans' old sessions are still at the reconnected reflector: it could not hear them leave.
      const victimStatus = await victim.status();
      const left = victimStatus.clients.filter((c) => c.lastHeardMs > CUT_MS / 2).length;
      const duplicates = clients.map((c) => clients.reduce((n, s) => n + (s === c ? 0 : c.duplicatesFrom(s.index)), 0));
      console.log(`${dataPlane}: sessions left behind ${left}; own datagrams ${JSON.stringify(clients.map((c) => c.ownReceived()))}; duplicates ${JSON.stringify(duplicates)}; latest ${JSON.stringify(clients.map((c) => Math.round(c.maxLateMs)))} ms`);
      expect(left).toBe(2);
      for (const c of clients) {
        expect(c.ownReceived(), `client ${c.index} received its own datagrams`).toBe(0);
        expect(c.late, `client ${c.index}: datagrams later than ${LATE_MS} ms`).toEqual([]);
      }
      const statuses = await Promise.all(mesh.map((r) => r.status()));
      for (const s of statuses) {
        expect((s.counters.dropped.replay ?? 0) + (s.counters.dropped.bad_peer_tag ?? 0), `${s.reflector.id} replay/forgery drops`).toBe(0);
        expect(s.peers.map((p) => p.id).sort()).toEqual(mesh.filter((r) => r.id !== s.reflector.id).map((r) => r.id).sort());
      }
    });
  });
}
