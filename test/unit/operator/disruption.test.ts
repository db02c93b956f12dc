// The mesh's PodDisruptionBudget (disruption-budget.ts, phases/disruption.ts): what it allows for each
// spec.disruption.maxUnavailable and size, when the phase writes it, and the controller keeping it
// through the fake API; and the pod-side of disruptions and placement: the safe-to-evict annotation
// and the node pin by affinity (node-pin.ts).
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { buildDisruptionBudget, maxUnavailableOf } from '../../../operator/controller/disruption-budget.js';
import { nodeOf } from '../../../operator/controller/node-pin.js';
import { podView } from '../../../operator/controller/observed.js';
import { makePass } from '../../../operator/controller/phases/pass.js';
import { disruptionPhase } from '../../../operator/controller/phases/disruption.js';
import { buildReflectorPod, desiredTemplateHash, SAFE_TO_EVICT_ANNOTATION } from '../../../operator/controller/pod-template.js';
import { nodesAt } from '../../support/fake-kube.js';
import { setup } from './controller-setup.js';
import { mesh, observed } from './fixtures.js';

describe('spec.disruption.maxUnavailable as a PodDisruptionBudget', () => {
  it.each([
    { maxUnavailable: undefined, replicas: 3, minAvailable: 2 },
    { maxUnavailable: 1, replicas: 1, minAvailable: 0 },
    { maxUnavailable: 1, replicas: 0, minAvailable: 0 },
    { maxUnavailable: 2, replicas: 5, minAvailable: 3 },
    { maxUnavailable: 9, replicas: 5, minAvailable: 0 },
    // Percentages round up, as Kubernetes rounds maxUnavailable: 25% of 5 is 2.
    { maxUnavailable: '25%', replicas: 5, minAvailable: 3 },
    { maxUnavailable: '50%', replicas: 4, minAvailable: 2 },
    { maxUnavailable: '100%', replicas: 4, minAvailable: 0 },
    // Never less than one: a budget that allows nothing would block every node drain.
    { maxUnavailable: '1%', replicas: 0, minAvailable: 0 },
  ])('maxUnavailable $maxUnavailable of $replicas reflectors: minAvailable $minAvailable', ({ maxUnavailable, replicas, minAvailable }) => {
    const m = mesh({ replicas, ...(maxUnavailable !== undefined ? { disruption: { maxUnavailable } } : {}) });
    const { spec, errors } = resolveSpec(m.spec);
    expect(errors).toEqual([]);
    expect(maxUnavailableOf(spec, replicas)).toBeGreaterThanOrEqual(1);
    const pdb = buildDisruptionBudget(m, spec, replicas);
    expect(pdb.spec).toEqual({
      minAvailable,
      selector: { matchLabels: { 'app.kubernetes.io/component': 'reflector', 'rmesh.io/mesh': 'conf' } },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(pdb.metadata).toMatchObject({ name: 'conf-reflectors', namespace: 'media', ownerReferences: [{ kind: 'ReflectorMesh', uid: 'uid-conf', controller: true }] });
  });

  it.each([0, -1, '0%', '101%', 'one', 1.5])('refuses maxUnavailable %j', (maxUnavailable) => {
    expect(resolveSpec(mesh({ replicas: 2, disruption: { maxUnavailable } }).spec).errors.join()).toContain('spec.disruption.maxUnavailable');
  });
});

describe('the disruption phase', () => {
  const m = mesh({ replicas: 3 });
  const spec = resolveSpec(m.spec).spec;
  const stored = (over: (pdb: V1PodDisruptionBudget) => void = () => {}): V1PodDisruptionBudget => {
    const pdb = buildDisruptionBudget(m, spec, 3);
    pdb.metadata!.resourceVersion = 'abc';
    over(pdb);
    return pdb;
  };
  it.each([
    { scene: 'not observed', seen: undefined, replicas: 3, writes: undefined },
    { scene: 'missing', seen: {}, replicas: 3, writes: { minAvailable: 2, resourceVersion: undefined } },
    { scene: 'as wanted', seen: { current: stored() }, replicas: 3, writes: undefined },
    { scene: 'the API server added its defaults elsewhere', seen: { current: stored((p) => (p.status = { currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 3 })) }, replicas: 3, writes: undefined },
    { scene: 'the mesh grew', seen: { current: stored() }, replicas: 5, writes: { minAvailable: 4, resourceVersion: 'abc' } },
    { scene: 'edited by hand', seen: { current: stored((p) => (p.spec!.minAvailable = 0)) }, replicas: 3, writes: { minAvailable: 2, resourceVersion: 'abc' } },
  ])('$scene', ({ seen, replicas, writes }) => {
    const o = observed({ mesh: m });
    if (seen) o.disruptionBudget = seen;
    const result = disruptionPhase(makePass(o, spec), replicas);
    expect(result.events).toEqual([]);
    if (!writes) return expect(result.actions).toEqual([]);
    expect(result.actions).toHaveLength(1);
    const action = result.actions[0]!;
    if (action.type !== 'writeDisruptionBudget') throw new Error(`expected writeDisruptionBudget, got ${action.type}`);
    expect(action.budget.spec!.minAvailable).toBe(writes.minAvailable);
    expect(action.budget.metadata!.resourceVersion).toBe(writes.resourceVersion);
  });

  it('leaves a budget of that name it does not own, and says so', () => {
    const o = observed({ mesh: m });
    o.disruptionBudget = { current: stored((p) => (p.metadata!.ownerReferences = [])) };
    const result = disruptionPhase(makePass(o, spec), 3);
    expect(result.actions).toEqual([]);
    expect(result.events).toEqual([expect.objectContaining({ type: 'Warning', reason: 'DisruptionBudgetNotOwned' })]);
  });
});

describe('the controller keeps the budget', () => {
  it('creates it with the mesh, follows the size and spec.disruption, and writes nothing when it is current', async () => {
    const c = setup({ replicas: 3 });
    await c.pass();
    expect(c.kube.budgets.get('media/conf-reflectors')?.spec?.minAvailable).toBe(2);
    c.kube.runPods();
    await c.pass();
    const rv = c.kube.budgets.get('media/conf-reflectors')!.metadata!.resourceVersion;
    await c.pass();
    expect(c.kube.budgets.get('media/conf-reflectors')!.metadata!.resourceVersion).toBe(rv);
    c.kube.editSpec('media/conf', (s) => {
      s.replicas = 4;
      s.disruption = { maxUnavailable: '50%' };
    });
    await c.pass();
    expect(c.kube.budgets.get('media/conf-reflectors')!.spec!.minAvailable).toBe(2);
  });
});

describe('reflector pods and disruptions', () => {
  const m = mesh({ replicas: 2 });
  const spec = resolveSpec(m.spec).spec;
  it('say cluster-autoscaler may evict them, unless the spec says otherwise; the template hash does not change', () => {
    expect(buildReflectorPod(m, spec, { defaultImage: 'x' }).metadata!.annotations).toEqual({ [SAFE_TO_EVICT_ANNOTATION]: 'true' });
    const own = mesh({ replicas: 2, reflector: { podAnnotations: { [SAFE_TO_EVICT_ANNOTATION]: 'false', a: 'b' } } });
    expect(buildReflectorPod(own, resolveSpec(own.spec).spec, { defaultImage: 'x' }).metadata!.annotations).toEqual({ [SAFE_TO_EVICT_ANNOTATION]: 'false', a: 'b' });
    expect(buildReflectorPod(m, spec, { defaultImage: 'x' }).metadata!.labels!['rmesh.io/template-hash']).toBe(desiredTemplateHash(m, spec, 'x'));
  });

  it('are pinned to the chosen node by required node affinity, beside the anti-affinity, and counted there while Pending', () => {
    const pod = buildReflectorPod(m, spec, { defaultImage: 'x', node: { name: 'n2', address: '203.0.113.2' } });
    expect(pod.spec!.nodeName).toBeUndefined();
    expect(pod.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual({
      nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n2'] }] }],
    });
    expect(pod.spec!.affinity!.podAntiAffinity).toBeDefined();
    expect(nodeOf(pod)).toBe('n2');
    expect(podView({ ...pod, metadata: { ...pod.metadata, name: 'p' } }).node).toBe('n2');
    // Once bound, the scheduler's answer.
    expect(nodeOf({ ...pod, spec: { ...pod.spec!, nodeName: 'n2' } })).toBe('n2');
    expect(nodeOf(buildReflectorPod(m, spec, { defaultImage: 'x' }))).toBeUndefined();
  });

  it('an ExternalIP mesh places the next reflector beside pods still Pending, not on their nodes', async () => {
    const c = setup({ replicas: 2, placement: { addressType: 'ExternalIP' } });
    c.kube.nodes = nodesAt(['203.0.113.1', '203.0.113.2', '203.0.113.3']);
    await c.pass();
    c.kube.editSpec('media/conf', (s) => (s.replicas = 3));
    await c.pass();
    const nodes = [...c.kube.pods.values()].map((p) => nodeOf(p)).sort();
    expect(nodes).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.3']);
  });
});
