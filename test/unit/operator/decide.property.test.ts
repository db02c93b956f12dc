// Invariants of the reconcile decisions over many random meshes (fast-check): whatever the pods, their
// readiness, phases, clients and peer lists, the operator never deletes a reachable reflector that still
// holds clients unless it failed or its drain timed out, creates no more than it is short, never tells a
// reflector about itself or about one it deletes, and leaves a converged mesh alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../../../operator/controller/decide.js';
import type { PodView, ReflectorReport } from '../../../operator/controller/observed.js';
import { clients, mesh, NOW, observed, pod, report } from './fixtures.js';

const podArb = fc.record({
  ready: fc.boolean(),
  phase: fc.constantFrom('Running', 'Running', 'Running', 'Pending', 'Failed'),
  terminating: fc.constantFrom(false, false, false, true),
  outdated: fc.constantFrom(false, false, false, true),
  reachable: fc.constantFrom(true, true, true, false),
  clients: fc.nat(6),
  draining: fc.constantFrom(false, false, false, true),
  drainAgeMs: fc.nat(120_000),
});

const sceneArb = fc.record({
  replicas: fc.nat(6),
  pods: fc.array(podArb, { maxLength: 7 }),
  peersKnown: fc.boolean(),
});

describe('decide, for any mesh', () => {
  it('keeps its invariants', () => {
    fc.assert(
      fc.property(sceneArb, (scene) => {
        const names = scene.pods.map((_, i) => `conf-${i + 1}`);
        const pods: PodView[] = scene.pods.map((p, i) =>
          pod(names[i]!, {
            ready: p.ready && p.phase === 'Running',
            phase: p.phase,
            terminating: p.terminating,
            ...(p.outdated ? { templateHash: 'old' } : {}),
            ...(p.phase === 'Pending' ? { hostIP: undefined, node: undefined } : {}),
          }),
        );
        const reports: Record<string, ReflectorReport> = {};
        const drainingSince: Record<string, number> = {};
        scene.pods.forEach((p, i) => {
          const name = names[i]!;
          if (!p.reachable || p.phase !== 'Running' || p.terminating) return;
          reports[name] = report({
            clients: clients(p.clients),
            draining: p.draining,
            peers: scene.peersKnown ? names.filter((n) => n !== name) : [],
          });
          if (p.draining) drainingSince[name] = NOW - p.drainAgeMs;
        });
        const d = decide(observed({ mesh: mesh({ replicas: scene.replicas }), pods, reports, drainingSince }));
        const byName = new Map(pods.map((p) => [p.name, p]));

        const deleted = new Set<string>();
        for (const a of d.actions) {
          if (a.type !== 'deletePod') continue;
          deleted.add(a.pod);
          const p = byName.get(a.pod)!;
          const r = reports[a.pod];
          const holds = r ? r.clients.length : 0;
          // A reachable reflector with clients is deleted only when failed, or drained out of time.
          if (r && holds > 0 && p.phase !== 'Failed' && scene.replicas > 0) {
            expect(r.draining, `deleted ${a.pod} with ${holds} clients`).toBe(true);
            expect(NOW - drainingSince[a.pod]!).toBeGreaterThanOrEqual(60_000);
          }
        }
        const live = pods.filter((p) => !p.terminating && p.phase !== 'Failed');
        const staying = live.filter((p) => !reports[p.name]?.draining && !deleted.has(p.name));
        const creates = d.actions.filter((a) => a.type === 'createPod').length;
        // Creates: at most the shortfall, plus one surge reflector for a roll-out.
        expect(creates).toBeLessThanOrEqual(Math.max(0, scene.replicas - staying.length) + 1);
        for (const a of d.actions) {
          if (a.type !== 'setPeers') continue;
          expect(a.peers.map((p) => p.id)).not.toContain(a.pod);
          // A deleted reflector stays listed only while it may still hand clients over on its SIGTERM.
          for (const p of a.peers) if (deleted.has(p.id)) expect(byName.get(p.id)!.phase === 'Running' && (reports[p.id]?.clients.length ?? 1) > 0, `${p.id} deleted and listed`).toBe(true);
          expect(deleted.has(a.pod)).toBe(false);
        }
        // Never drained and deleted in the same pass.
        const drained = d.actions.filter((a) => a.type === 'drain').map((a) => ('pod' in a ? a.pod : ''));
        for (const n of drained) expect(deleted.has(n)).toBe(false);
        // Status counts what exists.
        expect(d.status.replicas).toBe(pods.filter((p) => !p.terminating).length);
        expect(d.status.desiredReplicas).toBe(scene.replicas);
      }),
      { numRuns: 500 },
    );
  });

  it('leaves a converged, balanced mesh alone', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.nat(4), (m, perReflector) => {
        const names = Array.from({ length: m }, (_, i) => `conf-${i + 1}`);
        const reports = Object.fromEntries(names.map((n) => [n, report({ clients: clients(perReflector), peers: names.filter((o) => o !== n) })]));
        const d = decide(observed({ mesh: mesh({ replicas: m }), pods: names.map((n) => pod(n)), reports }));
        expect(d.actions).toEqual([]);
        expect(d.events).toEqual([]);
        expect(d.status.conditions!.find((c) => c.type === 'Ready')!.status).toBe('True');
      }),
      { numRuns: 100 },
    );
  });
});
