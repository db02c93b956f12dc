// One mesh at a time: the pure rule of whose turn it is to roll out (phases/roll-out.ts, rollOutTurn),
// the roll-out phase waiting for its turn, and the gate built from the caches (roll-out-gate.ts).
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { decide } from '../../../operator/controller/decide.js';
import { LABEL_TEMPLATE_HASH } from '../../../operator/controller/labels.js';
import { makePass } from '../../../operator/controller/phases/pass.js';
import { rollOut, rollOutTurn, type MeshRollOutState } from '../../../operator/controller/phases/roll-out.js';
import { RollOutGate, rollOutStates } from '../../../operator/controller/roll-out-gate.js';
import { hashOf, IMAGE, mesh, NOW, observed, peered, pod, type Scene } from './fixtures.js';

const state = (key: string, createdMs: number, outdated: number, current = 0): MeshRollOutState => ({ key, createdMs, outdated, current });

describe('rollOutTurn: whose turn it is to roll out', () => {
  it.each([
    { name: 'no mesh needs a roll-out: nobody', meshes: [state('a/x', 1, 0, 3), state('b/y', 2, 0, 2)], holder: undefined, turn: undefined },
    { name: 'the oldest mesh goes first', meshes: [state('a/young', 20, 2), state('b/old', 10, 3)], holder: undefined, turn: 'b/old' },
    { name: 'created at the same time: by namespace/name', meshes: [state('b/y', 10, 2), state('a/z', 10, 2), state('a/x', 10, 2)], holder: undefined, turn: 'a/x' },
    { name: 'the holder keeps its turn while it has outdated pods, even behind an older one', meshes: [state('a/old', 1, 3), state('b/young', 9, 1, 2)], holder: 'b/young', turn: 'b/young' },
    { name: 'a holder done (no outdated pod) passes the turn on', meshes: [state('a/old', 1, 3), state('b/young', 9, 0, 3)], holder: 'b/young', turn: 'a/old' },
    { name: 'a holder deleted passes the turn on', meshes: [state('a/old', 1, 3)], holder: 'gone/mesh', turn: 'a/old' },
    { name: 'no memory (after a restart): the mesh that started (new pods beside old) goes on', meshes: [state('a/old', 1, 3), state('b/young', 9, 1, 2)], holder: undefined, turn: 'b/young' },
    { name: 'two started: the oldest of them', meshes: [state('c/oldest', 0, 3), state('b/y', 9, 1, 2), state('a/x', 5, 2, 1)], holder: undefined, turn: 'a/x' },
  ])('$name', ({ meshes, holder, turn }) => {
    expect(rollOutTurn(meshes, holder)).toBe(turn);
  });
});

describe('phase: roll out, one mesh at a time', () => {
  const old = { templateHash: 'old' };
  const settled: Scene = { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1', old), pod('conf-2', old)], reports: peered(['conf-1', 'conf-2']) };
  const run = (turn: string | undefined, scene: Scene = settled) => {
    const o = observed(scene);
    if (turn !== undefined) o.rollOutTurn = turn;
    return rollOut(makePass(o, resolveSpec(o.mesh.spec).spec), 2);
  };

  it.each([
    { name: 'its own turn: the surge', turn: 'media/conf', actions: ['createPod'], queuedBehind: undefined },
    { name: 'not asked (no gate): the surge', turn: undefined, actions: ['createPod'], queuedBehind: undefined },
    { name: "another mesh's turn: no step, and says whose", turn: 'media/other', actions: [], queuedBehind: 'media/other' },
  ])('$name', ({ turn, actions, queuedBehind }) => {
    const r = run(turn);
    expect(r.actions.map((a) => a.type)).toEqual(actions);
    expect(r.progress?.rollOutQueuedBehind).toBe(queuedBehind);
    expect(r.progress?.rollingOut).toBe(2);
  });

  it("finishes a step under way (the surge made) even when it is another mesh's turn", () => {
    const r = run('media/other', { mesh: mesh({ replicas: 2 }), pods: [pod('conf-1', old), pod('conf-2', old), pod('conf-3')], reports: peered(['conf-1', 'conf-2', 'conf-3']) });
    expect(r.actions.map((a) => ('pod' in a ? `${a.type}:${a.pod}` : a.type))).toEqual(['deletePod:conf-2']); // the youngest of the empty old ones
  });

  it('the status says it waits for the other mesh, and the decision does not poll for it', () => {
    const o = observed(settled);
    o.rollOutTurn = 'media/other';
    const decision = decide(o);
    expect(decision.actions).toEqual([]);
    const progressing = decision.status.conditions?.find((c) => c.type === 'Progressing');
    expect(progressing).toMatchObject({ status: 'True', reason: 'RollOutQueued' });
    expect(progressing?.message).toContain('waiting for mesh media/other');
    expect(decision.requeueAfterMs).toBeUndefined();
  });
});

describe('the roll-out gate, from the caches', () => {
  const meshNamed = (name: string, createdMs: number) => {
    const m = mesh({ replicas: 2 });
    m.metadata = { ...m.metadata, name, uid: `uid-${name}`, creationTimestamp: new Date(createdMs) };
    return m;
  };
  const podOf = (owner: ReturnType<typeof meshNamed>, name: string, hash: string, over: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: { name, namespace: 'media', labels: { [LABEL_TEMPLATE_HASH]: hash }, ownerReferences: [{ apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', name: owner.metadata.name, uid: owner.metadata.uid, controller: true }], ...over },
    status: { phase: 'Running' },
  });
  const a = meshNamed('a', NOW - 2000);
  const b = meshNamed('b', NOW - 1000);

  it('counts each mesh’s live outdated and current pods (terminating ones are leaving)', () => {
    const pods = [podOf(a, 'a-1', 'old'), podOf(a, 'a-2', hashOf(a)), podOf(b, 'b-1', 'old'), podOf(b, 'b-2', 'old', { deletionTimestamp: new Date(NOW) })];
    expect(rollOutStates([a, b], pods, IMAGE)).toEqual([
      { key: 'media/a', createdMs: NOW - 2000, outdated: 1, current: 1 },
      { key: 'media/b', createdMs: NOW - 1000, outdated: 1, current: 0 },
    ]);
  });

  it('leaves out a mesh scaled to zero (its last reflector waits for its clients, not for a roll-out)', () => {
    const zero = meshNamed('zero', NOW - 3000);
    zero.spec.replicas = 0;
    expect(rollOutStates([zero, a], [podOf(zero, 'zero-1', 'old'), podOf(a, 'a-1', 'old')], IMAGE).map((s) => s.key)).toEqual(['media/a']);
  });

  it('keeps the turn with its holder, and says when it passes', () => {
    const gate = new RollOutGate();
    expect(gate.turn([state('media/b', 2, 2), state('media/a', 1, 2)])).toEqual({ turn: 'media/a', passedTo: 'media/a' });
    expect(gate.turn([state('media/b', 2, 2), state('media/a', 1, 1, 2)])).toEqual({ turn: 'media/a' });
    // A mesh older still needing a roll-out does not take the turn from the holder.
    expect(gate.turn([state('media/0', 0, 2), state('media/b', 2, 2), state('media/a', 1, 1, 2)])).toEqual({ turn: 'media/a' });
    expect(gate.turn([state('media/0', 0, 2), state('media/b', 2, 2), state('media/a', 1, 0, 2)])).toEqual({ turn: 'media/0', passedTo: 'media/0' });
  });
});
