// The reconcile decisions, table-driven: from an observed mesh, the actions, events and status.
import { describe, expect, it } from 'vitest';
import { decide, removalOrder, type Action, type Decision } from '../../../operator/controller/decide.js';
import { clients, mesh, NOW, observed, peered, pod, report, type Scene } from './fixtures.js';

function kinds(d: Decision): string[] {
  return d.actions.map((a) => (a.type === 'createPod' ? 'create' : `${a.type}:${'pod' in a ? a.pod : ''}`));
}

function condition(d: Decision, type: string) {
  const c = d.status.conditions!.find((x) => x.type === type)!;
  return `${c.status}/${c.reason}`;
}

const three = ['conf-1', 'conf-2', 'conf-3'];

interface Row {
  name: string;
  scene: Scene;
  actions: string[];
  ready: string;
  progressing: string;
  events?: string[];
}

const rows: Row[] = [
  {
    name: 'a new mesh gets its reflectors',
    scene: { mesh: mesh({ replicas: 3 }) },
    actions: ['create', 'create', 'create'],
    ready: 'False/ReflectorsNotReady',
    progressing: 'True/CreatingReflectors',
    events: ['CreatingReflectors'],
  },
  {
    name: 'ready reflectors are told their peers',
    scene: { mesh: mesh({ replicas: 3 }), pods: three.map((n) => pod(n)), reports: Object.fromEntries(three.map((n) => [n, report()])) },
    actions: ['setPeers:conf-1', 'setPeers:conf-2', 'setPeers:conf-3'],
    ready: 'False/Wiring',
    progressing: 'True/Wiring',
  },
  {
    name: 'a wired mesh at its size is left alone',
    scene: { mesh: mesh({ replicas: 3 }), pods: three.map((n) => pod(n)), reports: peered(three) },
    actions: [],
    ready: 'True/MeshReady',
    progressing: 'False/Stable',
  },
  {
    name: 'only the stale peer list is replaced',
    scene: {
      mesh: mesh({ replicas: 3 }),
      pods: three.map((n) => pod(n)),
      reports: { ...peered(three), 'conf-2': report({ peers: ['conf-1', 'conf-9'] }) },
    },
    actions: ['setPeers:conf-2'],
    ready: 'False/Wiring',
    progressing: 'True/Wiring',
  },
  {
    name: 'scaling down drains the reflector with the fewest clients',
    scene: {
      mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 3, clients: 6, desiredReplicas: 3 }),
      pods: three.map((n) => pod(n)),
      reports: peered(three, { 'conf-1': { clients: clients(3) }, 'conf-2': { clients: clients(1) }, 'conf-3': { clients: clients(2) } }),
    },
    actions: ['drain:conf-2'],
    ready: 'True/MeshReady',
    progressing: 'True/Draining',
    events: ['ScalingDown', 'Draining'],
  },
  {
    name: 'scaling down removes a not-ready reflector first, without draining',
    scene: {
      mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 2, clients: 3, desiredReplicas: 3 }),
      pods: [pod('conf-1'), pod('conf-2', { ready: false }), pod('conf-3')],
      reports: peered(three, { 'conf-1': { clients: clients(1) }, 'conf-3': { clients: clients(2) } }),
    },
    actions: ['deletePod:conf-2', 'setPeers:conf-1', 'setPeers:conf-3'],
    ready: 'True/MeshReady',
    progressing: 'True/Wiring',
    events: ['ScalingDown'],
  },
  {
    name: 'a drained reflector is deleted and dropped from the peer lists',
    scene: {
      mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 3, clients: 3, desiredReplicas: 2 }),
      pods: three.map((n) => pod(n)),
      reports: peered(three, { 'conf-2': { draining: true }, 'conf-1': { clients: clients(3) } }),
      drainingSince: { 'conf-2': NOW - 5000 },
    },
    actions: ['deletePod:conf-2', 'setPeers:conf-1', 'setPeers:conf-3'],
    ready: 'True/MeshReady',
    progressing: 'True/Wiring',
    events: ['ReflectorRemoved'],
  },
  {
    name: 'a draining reflector with clients is waited for',
    scene: {
      mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 3, clients: 3, desiredReplicas: 2 }),
      pods: three.map((n) => pod(n)),
      reports: peered(three, { 'conf-2': { draining: true, clients: clients(2) } }),
      drainingSince: { 'conf-2': NOW - 5000 },
    },
    actions: [],
    ready: 'True/MeshReady',
    progressing: 'True/Draining',
  },
  {
    name: 'a drained reflector is kept while it still forwards departing clients\' datagrams',
    scene: {
      mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 3, clients: 3, desiredReplicas: 2 }),
      pods: three.map((n) => pod(n)),
      reports: peered(three, { 'conf-2': { draining: true, clients: clients(2, 'sendrecv', 'departing') } }),
      drainingSince: { 'conf-2': NOW - 5000 },
    },
    actions: [],
    ready: 'True/MeshReady',
    progressing: 'True/Draining',
  },
  {
    name: 'a drain that outlives its timeout ends with a delete and a warning',
    scene: {
      mesh: mesh({ replicas: 2 }, { replicas: 3, readyReplicas: 3, clients: 3, desiredReplicas: 2 }),
      pods: three.map((n) => pod(n)),
      reports: peered(three, { 'conf-2': { draining: true, clients: clients(2) } }),
      drainingSince: { 'conf-2': NOW - 61_000 },
    },
    // It stays in its peers' lists: on SIGTERM it still hands its clients over to them.
    actions: ['deletePod:conf-2'],
    ready: 'True/MeshReady',
    progressing: 'False/Stable',
    events: ['DrainTimeout'],
  },
  {
    name: 'a failed reflector is deleted and replaced',
    scene: {
      mesh: mesh({ replicas: 3 }, { replicas: 3, readyReplicas: 2, clients: 0, desiredReplicas: 3 }),
      pods: [pod('conf-1'), pod('conf-2', { phase: 'Failed', ready: false }), pod('conf-3')],
      reports: { 'conf-1': report({ peers: ['conf-3'] }), 'conf-3': report({ peers: ['conf-1'] }) },
    },
    actions: ['deletePod:conf-2', 'create'],
    ready: 'False/ReflectorsNotReady',
    progressing: 'True/CreatingReflectors',
    events: ['ReflectorFailed'],
  },
  {
    name: 'a terminating pod does not count, and is replaced',
    scene: {
      mesh: mesh({ replicas: 3 }, { replicas: 3, readyReplicas: 3, clients: 0, desiredReplicas: 3 }),
      pods: [pod('conf-1'), pod('conf-2', { terminating: true }), pod('conf-3')],
      reports: { 'conf-1': report({ peers: ['conf-3'] }), 'conf-3': report({ peers: ['conf-1'] }) },
    },
    actions: ['create'],
    ready: 'False/ReflectorsNotReady',
    progressing: 'True/CreatingReflectors',
    events: ['CreatingReflectors'],
  },
  {
    name: 'scaling to zero with a client connected keeps the reflector that holds it, and says why',
    scene: {
      mesh: mesh({ replicas: 0 }, { replicas: 2, readyReplicas: 2, clients: 1, desiredReplicas: 2 }),
      pods: [pod('conf-1'), pod('conf-2')],
      reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(1) } }),
    },
    actions: ['deletePod:conf-2', 'setPeers:conf-1'],
    ready: 'True/ScaledToZero',
    progressing: 'True/WaitingForClients',
    events: ['ScalingDown', 'ScaleToZeroWaiting'],
  },
  {
    name: 'scaling to zero: the last reflector goes once its clients left',
    scene: { mesh: mesh({ replicas: 0 }, { replicas: 1, readyReplicas: 1, clients: 1, desiredReplicas: 0 }), pods: [pod('conf-1')], reports: peered(['conf-1']) },
    actions: ['deletePod:conf-1'],
    ready: 'True/ScaledToZero',
    progressing: 'False/Stable',
  },
  {
    name: 'scaling to zero while a reflector does not answer: one is kept (its clients are unknown)',
    scene: { mesh: mesh({ replicas: 0 }, { replicas: 1, readyReplicas: 1, clients: 0, desiredReplicas: 0 }), pods: [pod('conf-1')], unreachable: { 'conf-1': 'timeout' } },
    actions: [],
    ready: 'True/ScaledToZero',
    progressing: 'True/WaitingForClients',
    events: ['ScaleToZeroWaiting'],
  },
  {
    name: 'an HPA lowering spec.replicas through /scale (External mode): drained, not deleted',
    scene: {
      mesh: mesh({ replicas: 1, scaling: { mode: 'External' } }, { replicas: 2, readyReplicas: 2, clients: 3, desiredReplicas: 2 }),
      pods: [pod('conf-1'), pod('conf-2')],
      reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }),
    },
    actions: ['drain:conf-2'],
    ready: 'True/MeshReady',
    progressing: 'True/Draining',
    events: ['ScalingDown', 'Draining'],
  },
  {
    name: 'one drain at a time: the next waits while one is draining',
    scene: {
      mesh: mesh({ replicas: 1 }, { replicas: 3, readyReplicas: 3, clients: 3, desiredReplicas: 1 }),
      pods: three.map((n) => pod(n)),
      reports: peered(three, { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) }, 'conf-3': { draining: true, clients: clients(1) } }),
      drainingSince: { 'conf-3': NOW - 1000 },
    },
    actions: [],
    ready: 'True/MeshReady',
    progressing: 'True/Draining',
  },
];

describe('decide', () => {
  it.each(rows)('$name', (row) => {
    const d = decide(observed(row.scene));
    expect(kinds(d)).toEqual(row.actions);
    expect(condition(d, 'Ready')).toBe(row.ready);
    expect(condition(d, 'Progressing')).toBe(row.progressing);
    expect(d.events.map((e) => e.reason)).toEqual(row.events ?? []);
  });

  it('gives each reflector the address and ports of all the others', () => {
    const d = decide(observed({ mesh: mesh({ replicas: 2, ports: { data: 6000, control: 6100 } }), pods: [pod('conf-1'), pod('conf-2')], reports: { 'conf-1': report(), 'conf-2': report() } }));
    const set = d.actions.find((a): a is Extract<Action, { type: 'setPeers' }> => a.type === 'setPeers' && a.pod === 'conf-1')!;
    expect(set.peers).toEqual([{ id: 'conf-2', address: '10.0.0.2', dataPort: 6000, controlPort: 6100, rtp: true }]);
  });

  it('keeps a deleted reflector in the peer lists while it hands its clients over on SIGTERM', () => {
    const scene = {
      mesh: mesh({ replicas: 3 }, { replicas: 3, readyReplicas: 3, clients: 2, desiredReplicas: 3 }),
      pods: [pod('conf-1'), pod('conf-2', { terminating: true }), pod('conf-3')],
      reports: { 'conf-1': report({ peers: ['conf-2', 'conf-3'] }), 'conf-3': report({ peers: ['conf-1', 'conf-2'] }) },
    };
    const handingOver = observed(scene);
    handingOver.leaving = new Map([['conf-2', report({ draining: true, clients: clients(2) })]]);
    expect(kinds(decide(handingOver))).toEqual(['create']);
    // Once it holds no client (or no longer answers), the others drop it.
    const done = observed(scene);
    done.leaving = new Map([['conf-2', report({ draining: true })]]);
    expect(kinds(decide(done))).toEqual(['create', 'setPeers:conf-1', 'setPeers:conf-3']);
    expect(kinds(decide(observed(scene)))).toEqual(['create', 'setPeers:conf-1', 'setPeers:conf-3']);
  });

  it('excludes the other reflectors being removed from a drain', () => {
    const names = ['conf-1', 'conf-2', 'conf-3', 'conf-4'];
    const d = decide(
      observed({
        mesh: mesh({ replicas: 2, scaling: { scaleDown: { maxRemovedPerPeriod: 2 } } }, { replicas: 4, readyReplicas: 4, clients: 4, desiredReplicas: 4 }),
        pods: names.map((n) => pod(n)),
        reports: peered(names, Object.fromEntries(names.map((n, i) => [n, { clients: clients(i + 1) }]))),
      }),
    );
    // One drain at a time; its clients do not go to the reflector that goes next.
    const drains = d.actions.filter((a) => a.type === 'drain');
    expect(drains).toEqual([{ type: 'drain', pod: 'conf-1', exclude: ['conf-2'], reason: 'scaling down to 2' }]);
  });

  it('rebalances a settled mesh with the fewest migrations, a bounded number per pass', () => {
    const names = ['conf-1', 'conf-2'];
    const d = decide(observed({ mesh: mesh({ replicas: 2 }, { replicas: 2, readyReplicas: 2, clients: 20, desiredReplicas: 2 }), pods: names.map((n) => pod(n)), reports: peered(names, { 'conf-1': { clients: clients(20) } }) }));
    const moves = d.actions.filter((a) => a.type === 'migrate');
    expect(moves).toHaveLength(8);
    expect(moves.every((a) => a.type === 'migrate' && a.pod === 'conf-1' && a.to === 'conf-2')).toBe(true);
    expect(condition(d, 'Progressing')).toBe('True/Rebalancing');
    expect(d.events.map((e) => e.message)).toEqual(['moving 10 clients to even the load at 10 per reflector']);
    expect(d.requeueAfterMs).toBeDefined();
  });

  it('does not rebalance while a client is in flight', () => {
    const names = ['conf-1', 'conf-2'];
    const d = decide(observed({ mesh: mesh({ replicas: 2 }), pods: names.map((n) => pod(n)), reports: peered(names, { 'conf-1': { clients: [...clients(4), ...clients(1, 'sendrecv', 'reserved')] } }) }));
    expect(d.actions).toEqual([]);
  });

  it('leaves a balanced mesh alone', () => {
    const d = decide(observed({ mesh: mesh({ replicas: 3 }), pods: three.map((n) => pod(n)), reports: peered(three, { 'conf-1': { clients: clients(3) }, 'conf-2': { clients: clients(2) }, 'conf-3': { clients: clients(3) } }) }));
    expect(d.actions).toEqual([]);
    expect(d.status.clients).toBe(8);
  });
});

describe('roll-out', () => {
  const m = mesh({ replicas: 2, reflector: { image: 'rmesh:new' } }, { replicas: 2, readyReplicas: 2, clients: 3, desiredReplicas: 2 });
  const old = { templateHash: 'old' };

  it('first adds one reflector on the new template', () => {
    const d = decide(observed({ mesh: m, pods: [pod('conf-1', old), pod('conf-2', old)], reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }) }));
    expect(kinds(d)).toEqual(['create']);
    expect(d.events.map((e) => e.reason)).toEqual(['RollingOut']);
    expect(condition(d, 'Progressing')).toBe('True/RollingOut');
  });

  it('waits for the new reflector to be ready', () => {
    const names = ['conf-1', 'conf-2'];
    const d = decide(observed({ mesh: m, pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3', { ready: false })], reports: peered(names) }));
    expect(kinds(d)).toEqual([]);
  });

  it('then drains the old reflector with the fewest clients', () => {
    const d = decide(
      observed({
        mesh: m,
        pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3')],
        reports: peered(three, { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }),
      }),
    );
    expect(kinds(d)).toEqual(['drain:conf-2']);
  });

  it('drains first when the new reflector has no node to go to', () => {
    const d = decide(
      observed({
        mesh: m,
        pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3', { ready: false, phase: 'Pending', unschedulable: '0/2 nodes are available', hostIP: undefined, node: undefined })],
        reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }),
      }),
    );
    expect(kinds(d)).toEqual(['drain:conf-2']);
    expect(condition(d, 'Degraded')).toBe('True/Unschedulable');
  });

  it('waits while the new reflector has no node only because the one drained before is still leaving', () => {
    const d = decide(
      observed({
        mesh: m,
        pods: [
          pod('conf-1', old),
          pod('conf-2', old),
          pod('conf-4', { ...old, terminating: true }),
          pod('conf-3', { ready: false, phase: 'Pending', unschedulable: '0/3 nodes are available', hostIP: undefined, node: undefined }),
        ],
        reports: peered(['conf-1', 'conf-2'], { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }),
      }),
    );
    expect(kinds(d)).toEqual([]);
  });

  it('does not roll out a template change in the plan-derived limits', () => {
    const names = ['conf-1', 'conf-2'];
    const d = decide(observed({ mesh: mesh({ replicas: 2 }), pods: names.map((n) => pod(n)), reports: peered(names, { 'conf-1': { clients: clients(30) } }) }));
    expect(d.actions.some((a) => a.type === 'createPod')).toBe(false);
  });
});

describe('removal order', () => {
  it('takes not-ready, then outdated, then fewest clients, then youngest', () => {
    const o = observed({
      mesh: mesh(),
      pods: [],
      reports: { a: report({ clients: clients(1) }), b: report({ clients: clients(1) }), c: report({ clients: clients(5) }), d: report(), e: report({ clients: clients(1) }) },
    });
    const pods = [
      pod('a', { templateHash: o.templateHash, createdMs: 1 }),
      pod('b', { templateHash: o.templateHash, createdMs: 2 }),
      pod('c', { templateHash: 'old' }),
      pod('d', { templateHash: o.templateHash, ready: false }),
      pod('e', { templateHash: o.templateHash, createdMs: 3 }),
    ];
    expect(removalOrder(pods, o).map((p) => p.name)).toEqual(['d', 'c', 'e', 'b', 'a']);
  });
});
