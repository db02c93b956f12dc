// Issue 9, item 3, the proof: a mesh of 2 real reflector processes, 4 well-behaved clients sending at
// their share and one abusive client sending ten times its share plus oversized datagrams. With the
// per-client limits set, the well-behaved clients' loss stays under 1%, the abusive client's excess is
// dropped before fan-out and counted (rate_limited, oversized) at its reflector, and only about its
// allowance reaches anyone. Run for both data planes. The numbers go to the test log for the report.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { parsePrometheusText } from '../../support/prometheus-text.js';
import type { StatusResponse } from '../../../protocol/api-schemas.js';

/** A well-behaved client's share: 150 datagrams/s of 1000 bytes (1.2 Mbit/s). */
const SHARE_PPS = 150;
const SIZE = 1000;
/** The limit is twice the share (what the operator sets from spec.stream): 300/s and 2.4 Mbit/s. */
const LIMIT_PPS = 2 * SHARE_PPS;
const LIMIT_BPS = 2 * SHARE_PPS * SIZE * 8;
/** The default burst: it also absorbs a reflector stalled (GC, a busy machine) for up to a second. */
const BURST_MS = 500;
const DURATION_MS = 5000;
const WELL_BEHAVED = 4;
/** Every 10th datagram of the abusive client is also followed by one above --max-datagram-size. */
const OVERSIZED_EVERY = 10;

interface Outcome {
  loss: number;
  missing: number;
  expected: number;
  abusiveSent: number;
  oversizedSent: number;
  /** How many of the abusive client's datagrams the busiest receiver got. */
  abusiveDeliveredMax: number;
  rateLimited: number;
  oversized: number;
  seconds: number;
}

/** Sends `pps` datagrams/s from each sender for `durationMs`, catching up on timer lateness. */
async function drive(well: TestClient[], abusive: TestClient, durationMs: number): Promise<{ abusiveSent: number; oversizedSent: number; seconds: number }> {
  const started = performance.now();
  let wellSent = 0;
  let abusiveSent = 0;
  let oversizedSent = 0;
  let abusiveSeq = 0;
  for (;;) {
    const elapsed = performance.now() - started;
    const t = Math.min(elapsed, durationMs);
    const wellTarget = Math.floor((t * SHARE_PPS) / 1000);
    const abusiveTarget = Math.floor((t * 10 * SHARE_PPS) / 1000);
    for (; wellSent < wellTarget; wellSent++) for (const c of well) c.send(wellSent, SIZE);
    for (; abusiveSent < abusiveTarget; abusiveSent++) {
      abusive.send(abusiveSeq++, SIZE);
      if (abusiveSent % OVERSIZED_EVERY === 0) {
        abusive.send(abusiveSeq++, 3000);
        oversizedSent++;
      }
    }
    if (elapsed >= durationMs) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  return { abusiveSent, oversizedSent, seconds: (performance.now() - started) / 1000 };
}

async function dropped(mesh: ReflectorProcess[], reason: string): Promise<number> {
  let total = 0;
  for (const r of mesh) {
    const text = await (await r.request('/metrics')).text();
    const family = parsePrometheusText(text).get('rmesh_datagrams_dropped_total');
    total += family?.samples.find((s) => s.labels.reason === reason)?.value ?? 0;
  }
  return total;
}

describe.each([
  'js',
  'native',
] as const)('an abusive client among well-behaved ones (--data-plane %s)', (dataPlane) => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  let outcome: Outcome | undefined;

  beforeAll(async () => {
    mesh = await startMesh({
      size: 2,
      addressPrefix: '127.0.9.',
      firstHost: dataPlane === 'js' ? 10 : 20,
      common: {
        dataPlane,
        extraArgs: ['--max-client-pps', String(LIMIT_PPS), '--max-client-bitrate', String(LIMIT_BPS), '--max-client-burst', `${BURST_MS}ms`],
        // Limits are independent of authentication: an open mesh keeps this test to them.
        env: { RMESH_MESH_KEY: '', RMESH_OPEN_MESH: 'true' },
      },
    });
    clients = await joinClients(WELL_BEHAVED + 1, (i) => ({
      join: mesh[i % 2]!.controlAddress,
      name: i === WELL_BEHAVED ? 'abusive' : `client-${i}`,
      bindAddress: `127.0.9.${(dataPlane === 'js' ? 100 : 120) + i}`,
      receiveBufferBytes: 4 << 20,
    }));
  });

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('keeps the others under 1% loss and drops and counts the excess', async () => {
    const well = clients.slice(0, WELL_BEHAVED);
    const abusive = clients[WELL_BEHAVED]!;
    const run = await drive(well, abusive, DURATION_MS);
    await new Promise((r) => setTimeout(r, 500)); // the last datagrams in flight
    let missing = 0;
    let expected = 0;
    for (const r of well) {
      for (const s of well) {
        if (s === r) continue;
        expected += s.sent;
        missing += s.sent - r.countFrom(s.index, 0, s.sent);
      }
    }
    const abusiveDelivered = well.map((r) => r.countFrom(abusive.index));
    outcome = {
      loss: missing / expected,
      missing,
      expected,
      abusiveSent: run.abusiveSent,
      oversizedSent: run.oversizedSent,
      abusiveDeliveredMax: Math.max(...abusiveDelivered),
      rateLimited: await dropped(mesh, 'rate_limited'),
      oversized: await dropped(mesh, 'oversized'),
      seconds: run.seconds,
    };
    console.log(`limits proof (${dataPlane}): ${JSON.stringify(outcome)}`);

    // The well-behaved clients barely notice.
    expect(outcome.loss).toBeLessThan(0.01);
    // Every oversized datagram was dropped and counted, none delivered (they carry odd sequence slots).
    expect(outcome.oversized).toBe(run.oversizedSent);
    // The abusive client got at most its allowance through: burst + limit x time (either bucket).
    const allowance = (LIMIT_PPS * BURST_MS) / 1000 + LIMIT_PPS * (run.seconds + 0.5);
    expect(outcome.abusiveDeliveredMax).toBeLessThanOrEqual(allowance);
    expect(outcome.abusiveDeliveredMax).toBeGreaterThan(LIMIT_PPS * (run.seconds - 1));
    // ... and the rest was dropped as rate_limited: all it sent within size, less what passed.
    const admitted = run.abusiveSent - outcome.rateLimited;
    expect(outcome.rateLimited).toBeGreaterThan(run.abusiveSent - allowance);
    expect(admitted).toBeGreaterThanOrEqual(outcome.abusiveDeliveredMax);
    // Nothing the well-behaved clients sent was rate limited: every drop is the abusive client's.
    expect(outcome.rateLimited).toBeLessThanOrEqual(run.abusiveSent);
  });

  it('shows the drops in the status counters of the abusive client\'s reflector only', async () => {
    const statuses = await Promise.all(mesh.map((r) => r.json<StatusResponse>('/v1/status')));
    const home = statuses.find((s) => s.clients.some((c) => c.name === 'abusive'));
    expect(home).toBeDefined();
    expect(home!.counters.dropped.rate_limited).toBe(outcome!.rateLimited);
    for (const s of statuses) if (s !== home) expect(s.counters.dropped.rate_limited ?? 0).toBe(0);
    // Per client: the abusive one, and nobody else.
    for (const c of statuses.flatMap((s) => s.clients)) {
      expect(c.datagramsRateLimited, c.name).toBe(c.name === 'abusive' ? outcome!.rateLimited : 0);
    }
    // And its reflector said who it was.
    const reflector = mesh[statuses.indexOf(home!)]!;
    const line = await reflector.waitForOutput(/client over its rate limit/);
    expect(line).toContain('"name":"abusive"');
  });
});
