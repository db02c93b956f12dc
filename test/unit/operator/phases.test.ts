// Each reconcile phase on its own, table-driven: from an observed mesh, the actions and events it
// returns (decide.test.ts covers the phases together).
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import type { Action } from '../../../operator/controller/actions.js';
import type { Observed } from '../../../operator/controller/observed.js';
import { finishDrains } from '../../../operator/controller/phases/finish-drains.js';
import { meshKeyPhase } from '../../../operator/controller/phases/mesh-key.js';
import { makePass, type Pass, type PhaseResult } from '../../../operator/controller/phases/pass.js';
import { rebalance } from '../../../operator/controller/phases/rebalance.js';
import { replaceFailed } from '../../../operator/controller/phases/replace-failed.js';
import { rollOut } from '../../../operator/controller/phases/roll-out.js';
import { desiredSize, scale } from '../../../operator/controller/phases/scale.js';
import { wire } from '../../../operator/controller/phases/wire.js';
import { KEY_SET_SECRET_KEY, ROTATE_ANNOTATION } from '../../../operator/controller/mesh-key-set-secret.js';
import { formatMeshKeySet, singleKeySet } from '../../../protocol/security/mesh-key-set.js';
import { clients, mesh, NOW, observed, peered, pod, report, type Scene } from './fixtures.js';

const three = ['conf-1', 'conf-2', 'conf-3'];

function passOf(scene: Scene, over: Partial<Observed> = {}): Pass {
  const o = { ...observed(scene), ...over };
  return makePass(o, resolveSpec(o.mesh.spec).spec);
}

function kinds(r: PhaseResult): string[] {
  return r.actions.map((a: Action) => ('pod' in a ? `${a.type}:${a.pod}` : 'secret' in a ? `${a.type}:${a.secret.metadata!.name}` : a.type));
}

interface Row {
  name: string;
  scene: Scene;
  actions: string[];
  events?: string[];
}

function table(run: (pass: Pass) => PhaseResult, rows: Row[]): void {
  it.each(rows)('$name', (row) => {
    const r = run(passOf(row.scene));
    expect(kinds(r)).toEqual(row.actions);
    expect(r.events.map((e) => e.reason)).toEqual(row.events ?? []);
  });
}

describe('phase: replace failed', () => {
  table(replaceFailed, [
    { name: 'a healthy mesh: nothing', scene: { mesh: mesh(), pods: three.map((n) => pod(n)) }, actions: [] },
    {
      name: 'a failed and an exited pod are deleted, each with a Warning',
      scene: { mesh: mesh(), pods: [pod('conf-1', { phase: 'Failed' }), pod('conf-2', { phase: 'Succeeded' }), pod('conf-3')] },
      actions: ['deletePod:conf-1', 'deletePod:conf-2'],
      events: ['ReflectorFailed', 'ReflectorFailed'],
    },
    ...(['InternalIP', 'ExternalIP'] as const).flatMap((addressType) => [0, 29_000, 30_000].map((forMs) => {
      const pinned = { phase: 'Pending', ready: false, hostIP: undefined, node: 'node-3', unschedulable: '0/3 nodes are available', unschedulableSinceMs: NOW - forMs } as const;
      const replaced = addressType === 'ExternalIP' && forMs >= 30_000;
      return {
        name: `${addressType}: a pod unschedulable on its node for ${forMs / 1000} s${replaced ? ' (pinned there): deleted, to be placed again' : ': left to the scheduler'}`,
        scene: { mesh: mesh({ replicas: 3, placement: { addressType } }), pods: [pod('conf-1'), pod('conf-2'), pod('conf-3', pinned)] },
        actions: replaced ? ['deletePod:conf-3'] : [],
        events: replaced ? ['ReflectorFailed'] : [],
      };
    })),
    { name: 'a failed pod already terminating: left to go', scene: { mesh: mesh(), pods: [pod('conf-1', { phase: 'Failed', terminating: true })] }, actions: [] },
  ]);
});

describe('phase: finish drains', () => {
  const drainingScene = (r: Partial<ReturnType<typeof report>> | undefined, sinceMs: number): Scene => ({
    mesh: mesh({ replicas: 2, timeouts: { drainTimeoutSeconds: 60 } }),
    pods: [pod('conf-1'), pod('conf-2')],
    reports: { 'conf-1': report(), ...(r ? { 'conf-2': report({ draining: true, ...r }) } : {}) },
    drainingSince: { 'conf-2': NOW - sinceMs },
  });
  table(finishDrains, [
    { name: 'an empty draining reflector is deleted', scene: drainingScene({}, 1000), actions: ['deletePod:conf-2'], events: ['ReflectorRemoved'] },
    { name: 'one still holding clients waits', scene: drainingScene({ clients: clients(2) }, 1000), actions: [] },
    { name: 'one with only departing clients waits (their datagrams in flight)', scene: drainingScene({ clients: clients(1, 'sendrecv', 'departing') }, 1000), actions: [] },
    { name: 'out of time: deleted with a Warning', scene: drainingScene({ clients: clients(2) }, 61_000), actions: ['deletePod:conf-2'], events: ['DrainTimeout'] },
    { name: 'unreachable while draining: deleted', scene: drainingScene(undefined, 1000), actions: ['deletePod:conf-2'] },
  ]);

  it('keeps a waiting reflector out of the capacity and in the peer lists, and looks again soon', () => {
    const r = finishDrains(passOf(drainingScene({ clients: clients(1) }, 1000)));
    expect(r.goingAway).toEqual(['conf-2']);
    expect(r.deleting).toEqual([]);
    expect(r.progress?.draining).toEqual(['conf-2']);
    expect(r.requeueAfterMs).toBeGreaterThan(0);
  });
});

describe('phase: scale', () => {
  const run = (pass: Pass) => scale(pass, desiredSize(pass));
  table(run, [
    { name: 'too few: creates the missing ones', scene: { mesh: mesh({ replicas: 3 }), pods: [pod('conf-1')], reports: peered(['conf-1']) }, actions: ['createPod', 'createPod'], events: ['CreatingReflectors'] },
    {
      name: 'too many: drains the one with the fewest clients',
      scene: {
        mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 3, clients: 6, desiredReplicas: 3 }),
        pods: three.map((n) => pod(n)),
        reports: peered(three, { 'conf-1': { clients: clients(3) }, 'conf-2': { clients: clients(1) }, 'conf-3': { clients: clients(2) } }),
      },
      actions: ['drain:conf-2'],
      events: ['ScalingDown', 'Draining'],
    },
    {
      name: 'too many: an empty reflector is deleted without a drain',
      scene: { mesh: mesh({ replicas: 2 }), pods: three.map((n) => pod(n)), reports: peered(three, { 'conf-1': { clients: clients(3) }, 'conf-3': { clients: clients(2) } }) },
      actions: ['deletePod:conf-2'],
    },
    { name: 'at its size: nothing', scene: { mesh: mesh({ replicas: 3 }), pods: three.map((n) => pod(n)), reports: peered(three) }, actions: [] },
    {
      name: 'one over the size during a roll-out is the surge, not a surplus',
      scene: { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1', { templateHash: 'old' }), pod('conf-2', { templateHash: 'old' }), pod('conf-3')], reports: peered(three) },
      actions: [],
    },
  ]);

  it('the size comes from desiredSize(): spec.replicas in Fixed mode', () => {
    expect(desiredSize(passOf({ mesh: mesh({ replicas: 5 }) })).replicas).toBe(5);
  });
});

describe('phase: roll out', () => {
  const old = { templateHash: 'old' };
  const run = (pass: Pass) => rollOut(pass, 2);
  table(run, [
    { name: 'no outdated pod: nothing', scene: { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1'), pod('conf-2')], reports: peered(['conf-1', 'conf-2']) }, actions: [] },
    {
      name: 'first step: one new reflector beside the others',
      scene: { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1', old), pod('conf-2', old)], reports: peered(['conf-1', 'conf-2']) },
      actions: ['createPod'],
      events: ['RollingOut'],
    },
    {
      name: 'first step waits for every reflector to be ready',
      scene: { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1', old), pod('conf-2', { ...old, ready: false })], reports: peered(['conf-1']) },
      actions: [],
    },
    {
      name: 'second step waits for the surge to be ready',
      scene: { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3', { ready: false })], reports: peered(['conf-1', 'conf-2']) },
      actions: [],
    },
    {
      name: 'second step: the old reflector with the fewest clients is drained',
      scene: {
        mesh: mesh({ replicas: 2 }),
        pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3')],
        reports: peered(three, { 'conf-1': { clients: clients(1) }, 'conf-2': { clients: clients(2) } }),
      },
      actions: ['drain:conf-1'],
      events: ['Draining'],
    },
    {
      name: 'an unplaceable surge: the old one goes first',
      scene: {
        mesh: mesh({ replicas: 2 }),
        pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3', { ready: false, phase: 'Pending', unschedulable: 'no node' })],
        reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(1) }, 'conf-2': { clients: clients(2) } }),
      },
      actions: ['drain:conf-1'],
      events: ['Draining'],
    },
  ]);
});

describe('phase: roll out, a pod stuck Terminating', () => {
  const old = { templateHash: 'old' };
  const scene = (deletionMs: number): Scene => ({
    mesh: mesh({ replicas: 2 }),
    pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3', { ready: false, phase: 'Pending', unschedulable: 'no free node' }), pod('conf-9', { ...old, terminating: true, deletionMs })],
    reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(1) }, 'conf-2': { clients: clients(2) } }),
  });
  it('waits while the pod drained before is within its grace period (it still holds its node)', () => {
    expect(kinds(rollOut(passOf(scene(NOW + 10_000)), 2))).toEqual([]);
  });
  it('does not wait forever: a pod Terminating a minute past its grace period (a lost node) does not block', () => {
    expect(kinds(rollOut(passOf(scene(NOW - 61_000)), 2))).toEqual(['drain:conf-1']);
  });
});

describe('phase: wire', () => {
  const run = (pass: Pass) => wire(pass, new Set());
  table(run, [
    { name: 'fully peered: nothing', scene: { mesh: mesh(), pods: three.map((n) => pod(n)), reports: peered(three) }, actions: [] },
    { name: 'a new reflector: everyone learns of it', scene: { mesh: mesh(), pods: three.map((n) => pod(n)), reports: { ...peered(['conf-1', 'conf-2']), 'conf-3': report() } }, actions: ['setPeers:conf-1', 'setPeers:conf-2', 'setPeers:conf-3'] },
    { name: 'an unreachable reflector gets no list and is in none', scene: { mesh: mesh(), pods: three.map((n) => pod(n)), reports: peered(['conf-1', 'conf-2']) }, actions: [] },
    // A pod that waits for its first list (--await-peer-list) is not Ready until one comes.
    { name: 'a restarted reflector waiting for its list, with its peers already: it gets the list', scene: { mesh: mesh(), pods: three.map((n) => pod(n)), reports: peered(three, { 'conf-2': { awaitingPeerList: true } }) }, actions: ['setPeers:conf-2'] },
    { name: 'the only reflector, waiting: it gets the empty list', scene: { mesh: mesh({ replicas: 1 }), pods: [pod('conf-1')], reports: { 'conf-1': report({ awaitingPeerList: true }) } }, actions: ['setPeers:conf-1'] },
    { name: 'the only reflector, wired: nothing', scene: { mesh: mesh({ replicas: 1 }), pods: [pod('conf-1')], reports: { 'conf-1': report() } }, actions: [] },
  ]);

  // Reflectors going away stay in their peers' lists while they may still hand clients over.
  const sets = (scene: Scene, deleting: string[] = [], over: Partial<Observed> = {}) => kinds(wire(passOf(scene, over), new Set(deleting)));
  it.each([
    { name: 'deleted this pass holding clients (a drain out of time): stays listed', reports: peered(three, { 'conf-3': { clients: clients(2) } }), deleting: ['conf-3'], actions: [] },
    { name: 'deleted this pass without answering (unknown clients): stays listed', reports: peered(['conf-1', 'conf-2'], { 'conf-1': { peers: ['conf-2', 'conf-3'] }, 'conf-2': { peers: ['conf-1', 'conf-3'] } }), deleting: ['conf-3'], actions: [] },
    { name: 'silent this pass but staying: kept in the lists that have it', reports: peered(['conf-1', 'conf-2'], { 'conf-1': { peers: ['conf-2', 'conf-3'] }, 'conf-2': { peers: ['conf-1', 'conf-3'] } }), deleting: [], actions: [] },
    { name: 'silent this pass: not added to a list that lacks it', reports: peered(['conf-1', 'conf-2'], { 'conf-1': { peers: ['conf-2', 'conf-3'] } }), deleting: [], actions: [] },
  ])('$name', ({ reports, deleting, actions }) => {
    expect(sets({ mesh: mesh(), pods: three.map((n) => pod(n)), reports }, deleting)).toEqual(actions);
  });

  it('keeps a terminating reflector that does not answer while its grace period lasts, then drops it', () => {
    const scene = (deletionMs: number): Scene => ({ mesh: mesh(), pods: [pod('conf-1'), pod('conf-2'), pod('conf-3', { terminating: true, deletionMs })], reports: peered(three) });
    expect(sets(scene(NOW + 20_000))).toEqual([]);
    expect(sets(scene(NOW - 1000))).toEqual(['setPeers:conf-1', 'setPeers:conf-2']);
    // Answering with no client left: it has handed everything over, so it goes from the lists at once.
    expect(sets(scene(NOW + 20_000), [], { leaving: new Map([['conf-3', report()]]) })).toEqual(['setPeers:conf-1', 'setPeers:conf-2']);
  });

  it('leaves out the pods deleted this pass, and counts the missing peers', () => {
    const r = wire(passOf({ mesh: mesh(), pods: three.map((n) => pod(n)), reports: peered(three) }), new Set(['conf-3']));
    expect(kinds(r)).toEqual(['setPeers:conf-1', 'setPeers:conf-2']);
    expect(r.progress).toEqual({ wiring: 2 }); // a stale extra peer does not split the mesh
  });
});

describe('phase: rebalance', () => {
  const uneven: Scene = { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1'), pod('conf-2')], reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(6) } }) };
  table((pass) => rebalance(pass, 2, false), [
    { name: 'an uneven settled mesh: migrations', scene: uneven, actions: ['migrate:conf-1', 'migrate:conf-1', 'migrate:conf-1'], events: ['Rebalancing'] },
    { name: 'even: nothing', scene: { ...uneven, reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(3) }, 'conf-2': { clients: clients(3) } }) }, actions: [] },
    { name: 'a client in flight: nothing', scene: { ...uneven, reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: [...clients(5), ...clients(1, 'sendrecv', 'reserved')] } }) }, actions: [] },
  ]);

  it('does nothing when an earlier phase acts this pass', () => {
    expect(rebalance(passOf(uneven), 2, true).actions).toEqual([]);
  });
});

describe('phase: mesh key', () => {
  const fresh = Buffer.alloc(32, 7);
  const mine = { labels: { 'app.kubernetes.io/managed-by': 'reflector-mesh-operator' }, ownerUids: ['uid-conf'] };
  const keyB64 = (b: Buffer) => b.toString('base64');
  const rows: { name: string; spec?: Parameters<typeof mesh>[0]; annotations?: Record<string, string>; meshKeys: Observed['meshKeys']; actions: string[]; events?: string[]; problem?: RegExp; refused?: RegExp }[] = [
    { name: 'the generated Secret missing: created, and the key set published from it', meshKeys: { fresh }, actions: ['createSecret:conf-mesh-key', 'writeSecret:conf-mesh-keys'] },
    {
      name: 'all in place: nothing',
      meshKeys: { fresh, source: { data: { key: keyB64(Buffer.alloc(32, 1)) }, ...mine }, keySet: { data: { [KEY_SET_SECRET_KEY]: formatMeshKeySet(singleKeySet(Buffer.alloc(32, 1))) }, ...mine } },
      actions: [],
    },
    {
      name: 'the rotate annotation: a new key, then step 1',
      annotations: { [ROTATE_ANNOTATION]: 'today' },
      meshKeys: { fresh, source: { data: { key: keyB64(Buffer.alloc(32, 1)) }, ...mine }, keySet: { data: { [KEY_SET_SECRET_KEY]: formatMeshKeySet(singleKeySet(Buffer.alloc(32, 1))) }, ...mine } },
      actions: ['writeSecret:conf-mesh-key', 'writeSecret:conf-mesh-keys'],
      events: ['MeshKeyGenerated', 'MeshKeyRotation'],
    },
    { name: 'a named Secret missing: a problem, nothing created', spec: { replicas: 1, auth: { meshKeySecretRef: { name: 'mine', key: 'k' } } }, meshKeys: { fresh }, actions: [], problem: /mine.*does not exist; create it/ },
    {
      name: 'a named Secret that did not opt in: refused, its content unread',
      spec: { replicas: 1, auth: { meshKeySecretRef: { name: 'theirs', key: 'k' } } },
      meshKeys: { fresh, source: { data: { k: 'short' }, labels: {}, ownerUids: [] } },
      actions: [],
      refused: /has not opted in/,
    },
    { name: 'a key too short: a problem', meshKeys: { fresh, source: { data: { key: keyB64(Buffer.alloc(8)) }, ...mine } }, actions: [], problem: /at least 32 bytes/ },
  ];
  it.each(rows)('$name', (row) => {
    const m = mesh(row.spec ?? { replicas: 1 });
    if (row.annotations) m.metadata.annotations = row.annotations;
    const o: Observed = { ...observed({ mesh: m }), meshKeys: row.meshKeys };
    const r = meshKeyPhase(o, resolveSpec(m.spec).spec);
    expect(kinds(r)).toEqual(row.actions);
    expect(r.events.map((e) => e.reason)).toEqual(row.events ?? []);
    if (row.problem) expect(r.problem).toMatch(row.problem);
    else expect(r.problem).toBeUndefined();
    if (row.refused) expect(r.refused).toMatch(row.refused);
    else expect(r.refused).toBeUndefined();
  });

  it('is pure: the same observation gives the same Secrets', () => {
    const o: Observed = { ...observed({ mesh: mesh({ replicas: 1 }) }), meshKeys: { fresh } };
    const spec = resolveSpec(o.mesh.spec).spec;
    expect(JSON.stringify(meshKeyPhase(o, spec))).toBe(JSON.stringify(meshKeyPhase(o, spec)));
  });
});

describe('phase: scale, the scale-down policy', () => {
  const run = (pass: Pass) => scale(pass, desiredSize(pass));
  const four = ['conf-1', 'conf-2', 'conf-3', 'conf-4'];
  const busy = (spec: Parameters<typeof mesh>[0], removedAtMs: number[] = []) =>
    passOf(
      { mesh: mesh(spec, { replicas: 4, readyReplicas: 4, clients: 10, desiredReplicas: 4 }), pods: four.map((n) => pod(n)), reports: peered(four, Object.fromEntries(four.map((n, i) => [n, { clients: clients(i + 1) }]))) },
      { removedAtMs },
    );
  it.each([
    { name: 'one removal per period by default', spec: { replicas: 1 }, removedAtMs: [], actions: ['drain:conf-1'], removals: 1 },
    { name: 'none while the period\'s budget is spent', spec: { replicas: 1 }, removedAtMs: [NOW - 5_000], actions: [], removals: undefined },
    { name: 'again once the period has passed', spec: { replicas: 1 }, removedAtMs: [NOW - 15_000], actions: ['drain:conf-1'], removals: 1 },
    { name: 'a bigger budget still drains one at a time', spec: { replicas: 1, scaling: { scaleDown: { maxRemovedPerPeriod: 3 } } }, removedAtMs: [], actions: ['drain:conf-1'], removals: 1 },
  ])('$name', ({ spec, removedAtMs, actions, removals }) => {
    const r = run(busy(spec, removedAtMs));
    expect(kinds(r)).toEqual(actions);
    expect(r.removals).toBe(removals);
    expect(r.requeueAfterMs).toBeDefined(); // the rest follows
  });

  it('says when the next removal is allowed, and why it waits', () => {
    const r = run(busy({ replicas: 1, scaling: { scaleDown: { periodSeconds: 60 } } }, [NOW - 20_000]));
    expect(r.requeueAfterMs).toBe(40_000);
    expect(r.progress?.pacing).toMatch(/at most 1 reflector removed per 60s/);
  });

  it('a bigger budget deletes empty reflectors at once, beside the one drain', () => {
    const pass = passOf({
      mesh: mesh({ replicas: 1, scaling: { scaleDown: { maxRemovedPerPeriod: 3 } } }, { replicas: 4, readyReplicas: 4, clients: 3, desiredReplicas: 4 }),
      pods: four.map((n) => pod(n)),
      reports: peered(four, { 'conf-3': { clients: clients(1) }, 'conf-4': { clients: clients(2) } }),
    });
    const r = run(pass);
    expect(kinds(r)).toEqual(['deletePod:conf-2', 'deletePod:conf-1', 'drain:conf-3']);
    expect(r.removals).toBe(3);
  });
});
