// The Erum experiment's short form (bench/erum): for m = 1..3 reflectors, each on its own emulated host
// with a link limited to B = 905/30 streams, the largest client count with under 1% worst-client loss,
// measured with real reflector processes and clients, equals the capacity model's (the planner's, with
// one receive-only client). The driver runs in a private network namespace of its own (unshare --net).
import { describe, expect, it } from 'vitest';
import { LINK_WIRE_BPS, LOSS_LIMIT, modelClients } from '../../../bench/erum/params.js';
import { runDriver } from '../../../bench/erum/suite.js';
import type { TrialResult } from '../../../bench/erum/testbed.js';
import { listNamespaces } from '../../support/test-hosts.js';

describe('the Erum experiment, short form', () => {
  it('measures, for m = 1..3, the client count the model predicts', { timeout: 900_000 }, async () => {
    const progress: string[] = [];
    let driver = 0;
    const rows = await runDriver({ capacity: { reflectors: [1, 2, 3], repeats: 1, windowMs: 10_000 } }, (line) => progress.push(line), (pid) => (driver = pid));
    expect(rows.capacity.map((r) => r.m)).toEqual([1, 2, 3]);
    for (const row of rows.capacity) {
      const at = (n: number): TrialResult[] => row.trials.filter((t) => t.n === n);
      expect(row.model, `m=${row.m}`).toBe(modelClients(row.m));
      expect(row.measured, `m=${row.m}: ${progress.filter((l) => l.startsWith(`m=${row.m} `)).join('\n')}`).toBe(row.model);
      // n passed, n+1 failed, both measured; at n+1 the busiest link ran at its limit, dropping the excess.
      for (const t of at(row.measured)) expect(t.worstLoss).toBeLessThan(LOSS_LIMIT);
      const over = at(row.measured + 1);
      expect(over.length).toBeGreaterThan(0);
      for (const t of over) {
        expect(t.worstLoss).toBeGreaterThanOrEqual(LOSS_LIMIT);
        expect(Math.max(...t.linkWireBps)).toBeGreaterThan(0.97 * LINK_WIRE_BPS);
        expect(Math.max(...t.linkDropped)).toBeGreaterThan(0);
      }
      // The link, not the CPU, is the limit: the mesh and its clients use a small part of one CPU.
      for (const t of row.trials) expect(t.cpu.ours).toBeLessThan(0.5);
    }
    // The driver's namespaces are gone with it.
    expect(driver).toBeGreaterThan(0);
    expect(listNamespaces().filter((ns) => ns.startsWith(`rmh-${driver}-`))).toEqual([]);
  });
});
