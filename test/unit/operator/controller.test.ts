// The controller with an in-memory cluster: the fake Kubernetes API (test/support/fake-kube.ts) and
// fake reflectors behind the admin API. Passes of observe → decide → apply converge a mesh: pods are
// created, wired, scaled down by draining first, and status and events are written.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it, vi } from 'vitest';
import { resolveSpec, type ReflectorMesh } from '../../../operator/api/v1alpha1/index.js';
import { buildReflectorPod } from '../../../operator/controller/pod-template.js';
import { apply } from '../../../operator/controller/apply.js';
import { canonical } from '../../../operator/controller/canonical.js';
import { MeshController } from '../../../operator/controller/controller.js';
import { decide } from '../../../operator/controller/decide.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import { Informer } from '../../../operator/informers/informer.js';
import { statusMergePatch } from '../../../operator/kube/kube-api.js';
import { clients, mesh as makeMesh, observed, peered, pod } from './fixtures.js';
import { FakeKube } from '../../support/fake-kube.js';
import { FakeReflectors, optIn, quiet, setup, staticSource } from './controller-setup.js';

describe('MeshController with an in-memory cluster', () => {
  it('creates, wires and reports a mesh, then scales it down by draining first', async () => {
    const c = setup({ replicas: 3 });
    await c.pass();
    expect(c.kube.pods.size).toBe(3);
    const created = [...c.kube.pods.values()][0]!;
    expect(created.spec!.hostNetwork).toBe(true);
    expect(created.metadata!.ownerReferences![0]).toMatchObject({ kind: 'ReflectorMesh', name: 'conf', uid: 'uid-conf', controller: true });

    c.kube.runPods();
    await c.pass();
    expect(c.reflectors.calls.filter((x) => x.startsWith('setPeers'))).toHaveLength(3);
    await c.pass();
    const ready = c.mesh().status!;
    expect(ready.readyReplicas).toBe(3);
    expect(ready.conditions!.find((x) => x.type === 'Ready')).toMatchObject({ status: 'True', reason: 'MeshReady' });

    // Clients arrive; then the mesh is scaled down to 2.
    const addresses = [...c.reflectors.state.keys()];
    c.reflectors.state.get(addresses[0]!)!.clients = clients(3);
    c.reflectors.state.get(addresses[1]!)!.clients = clients(3);
    c.reflectors.state.get(addresses[2]!)!.clients = clients(2);
    c.mesh().spec.replicas = 2;
    c.mesh().metadata.generation = 2;
    c.reflectors.calls = [];
    await c.pass();
    expect(c.reflectors.calls).toEqual([`drain ${addresses[2]}`]);
    expect(c.kube.pods.size).toBe(3); // not deleted before its clients moved
    await c.pass();
    expect(c.kube.pods.size).toBe(2);
    const reasons = c.kube.events.map((e) => e.reason);
    expect(reasons).toContain('ScalingDown');
    expect(reasons).toContain('Draining');
    expect(reasons).toContain('ReflectorRemoved');
    await c.pass();
    expect(c.mesh().status).toMatchObject({ replicas: 2, readyReplicas: 2, desiredReplicas: 2, clients: 8, observedGeneration: 2 });
  });

  it('writes the status only when it changed', async () => {
    const c = setup({ replicas: 1 });
    await c.pass();
    c.kube.runPods();
    await c.pass();
    await c.pass();
    const writes = c.kube.statusWrites;
    await c.pass();
    await c.pass();
    expect(c.kube.statusWrites).toBe(writes);
  });

  it('retries a failed creation: the pass throws so the queue backs off', async () => {
    const c = setup({ replicas: 2 });
    c.kube.failCreates = 1;
    await expect(c.pass()).rejects.toThrow(/createPod.*admission webhook said no/);
    expect(c.kube.pods.size).toBe(1);
    await c.pass();
    expect(c.kube.pods.size).toBe(2);
  });

  it('says Degraded with the API server\'s message when Pod Security refuses the pods, once per message, and recovers', async () => {
    const c = setup({ replicas: 2 });
    const refusal = (name: string) =>
      Object.assign(new Error('HTTP-Code: 403 ...'), {
        code: 403,
        body: JSON.stringify({ kind: 'Status', code: 403, message: `pods "${name}" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)` }),
      });
    const create = c.kube.createPod.bind(c.kube);
    let refusing = true;
    let attempt = 0;
    c.kube.createPod = async (ns, pod) => {
      if (refusing) throw refusal(`conf-${++attempt}`);
      return create(ns, pod);
    };
    await expect(c.pass()).rejects.toThrow(/createPod: HTTP 403: pods "conf-1" is forbidden/);
    await expect(c.pass()).rejects.toThrow(/HTTP 403/);
    const degraded = c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'PodCreateRefused' });
    expect(degraded.message).toMatch(/violates PodSecurity.*enforce=privileged/);
    await expect(c.pass()).rejects.toThrow(/HTTP 403/);
    // The pod name in the server's message changes every attempt; the event does not repeat.
    expect(c.kube.events.filter((e) => e.reason === 'PodCreateRefused')).toHaveLength(1);
    const warning = c.kube.events.find((e) => e.reason === 'PodCreateRefused')!;
    expect(warning.type).toBe('Warning');
    expect(warning.message).toContain('violates PodSecurity');
    refusing = false;
    await c.pass(); // reports last pass's refusal, creates the pods
    await c.pass();
    expect(c.kube.pods.size).toBe(2);
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!.reason).not.toBe('PodCreateRefused');
  });

  it('calls the reflectors with the admin token from the Secret, and reports a missing Secret', async () => {
    const c = setup({ replicas: 1, auth: { adminTokenSecretRef: { name: 'rmesh-token', key: 'token' } } });
    await c.pass();
    c.kube.runPods();
    await c.pass();
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'SecretMissing' });
    c.kube.secrets.set('media/rmesh-token', { token: 's3cret' });
    optIn(c, 'media/rmesh-token', 'admin-token');
    await c.pass();
    expect([...c.reflectors.tokens]).toContain('s3cret');
    const env = [...c.kube.pods.values()][0]!.spec!.containers[0]!.env!;
    expect(env.find((e) => e.name === 'RMESH_ADMIN_TOKEN')).toEqual({ name: 'RMESH_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'rmesh-token', key: 'token' } } });
  });
});

describe('worker health and leadership', () => {
  it('counts a pass that hangs as a stuck worker, and a former leader applies nothing', async () => {
    const meshes = new Map<string, ReflectorMesh>([['media/conf', makeMesh({ replicas: 1 })]]);
    const kube = new FakeKube(meshes);
    const clock = { t: 1_000_000 };
    let release: () => void = () => {};
    const hanging = new FakeReflectors();
    let asked = false;
    hanging.status = () => {
      asked = true;
      return new Promise((resolve) => (release = () => resolve({ draining: false, clients: [], peers: [], outboundStreams: 0, outboundBitsPerSecond: 0 })));
    };
    let leader = true;
    const meshInformer = new Informer<ReflectorMesh>(staticSource(() => [...meshes.values()]), { resyncMs: 0, silenceMs: 60_000 });
    const podInformer = new Informer<V1Pod>(staticSource(() => [...kube.pods.values()]), { resyncMs: 0, silenceMs: 60_000 });
    const controller = new MeshController({
      meshes: meshInformer, pods: podInformer, kube, admin: hanging, recorder: new EventRecorder(kube, 'test'), log: quiet,
      defaultImage: 'rmesh:test', workers: 1, statusRefreshMs: 60_000, stuckWorkerMs: 30_000, now: () => clock.t, mayAct: () => leader,
    });
    meshInformer.recordWrite(structuredClone(meshes.get('media/conf')!));
    // A running pod whose admin API never answers: the pass hangs in observe.
    const pod = await kube.createPod('media', buildReflectorPod(meshes.get('media/conf')!, resolveSpec(meshes.get('media/conf')!.spec).spec, { defaultImage: 'rmesh:test' }));
    kube.runPods();
    podInformer.recordWrite(structuredClone(kube.pods.get(pod.metadata!.name!)!));
    controller.start();
    controller.queue.add('media/conf');
    await vi.waitFor(() => expect(asked).toBe(true));
    expect(controller.stuckWorker()).toBeUndefined();
    clock.t += 31_000;
    expect(controller.longestRunningMs()).toBe(31_000);
    expect(controller.stuckWorker()).toMatch(/mesh media\/conf has run for 31 s/);
    // Leadership is lost while the pass is stuck; when it returns, it must not act.
    leader = false;
    const writes = kube.statusWrites;
    release();
    await controller.stop();
    expect(controller.stuckWorker()).toBeUndefined();
    expect(kube.statusWrites).toBe(writes);
    expect(kube.pods.size).toBe(1);
  });
});

describe('observe', () => {
  it('only reads: the mesh key Secret it lacks is created by the applier, as an action of the decision', async () => {
    const c = setup({ replicas: 1 });
    const writes: string[] = [];
    for (const method of ['createPod', 'deletePod', 'patchMeshStatus', 'createSecret', 'writeSecret', 'createEvent', 'writeDisruptionBudget'] as const) {
      const real = c.kube[method].bind(c.kube) as (...args: unknown[]) => Promise<unknown>;
      (c.kube as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        writes.push(method);
        return real(...args);
      };
    }
    c.meshInformer.recordWrite(structuredClone(c.mesh()));
    const observed = await c.observe();
    expect(writes).toEqual([]);
    expect(c.kube.secrets.has('media/conf-mesh-key')).toBe(false);
    const decision = decide(observed);
    expect(decision.actions.map((a) => a.type)).toEqual(['createSecret', 'writeSecret', 'createPod', 'writeDisruptionBudget']);
    await c.pass();
    expect(writes).toContain('createSecret');
    expect(c.kube.secrets.has('media/conf-mesh-key')).toBe(true);
  });
});

describe('ExternalIP placement', () => {
  const node = (name: string, external?: string, extra: Partial<V1Node['spec']> = {}): V1Node => ({
    metadata: { name, labels: { zone: 'a' } },
    spec: { ...extra },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: `10.0.0.${name.slice(-1)}` }, ...(external ? [{ type: 'ExternalIP', address: external }] : [])],
    },
  });

  it('places each reflector on a node with an external address and advertises it', async () => {
    const c = setup({ replicas: 2, placement: { addressType: 'ExternalIP' } });
    c.kube.nodes = [node('n1', '203.0.113.1'), node('n2'), node('n3', '203.0.113.3'), node('n4', '203.0.113.4', { taints: [{ key: 'gpu', effect: 'NoSchedule' }] })];
    await c.pass();
    const created = [...c.kube.pods.values()];
    // Pinned by required node affinity on the node's name; the scheduler binds them (no spec.nodeName).
    expect(created.map((p) => p.spec!.nodeName)).toEqual([undefined, undefined]);
    const pinned = (p: V1Pod) => p.spec!.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchFields![0]!;
    expect(created.map((p) => pinned(p).values![0]).sort()).toEqual(['n1', 'n3']);
    for (const p of created) {
      expect(pinned(p)).toMatchObject({ key: 'metadata.name', operator: 'In' });
      const advertised = p.spec!.containers[0]!.env!.find((e) => e.name === 'RMESH_ADVERTISE_ADDRESS')!.value;
      expect(advertised).toBe(pinned(p).values![0] === 'n1' ? '203.0.113.1' : '203.0.113.3');
    }
    c.kube.runPods();
    await c.pass();
    // Peers are told the advertised addresses, not the node-internal ones the operator calls.
    expect(c.reflectors.calls.filter((x) => x.startsWith('setPeers')).map((x) => x.split(' ')[2]).sort()).toEqual(['203.0.113.1', '203.0.113.3']);
    await c.pass();
    expect(c.mesh().status!.reflectors!.map((r) => r.address).sort()).toEqual(['203.0.113.1', '203.0.113.3']);
  });

  it('says why when no node has an external address', async () => {
    const c = setup({ replicas: 1, placement: { addressType: 'ExternalIP' } });
    c.kube.nodes = [node('n1'), node('n2')];
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'NoNodeWithExternalIP',
      message: expect.stringContaining('2 without an ExternalIP address') as string,
    });
  });
});

describe('apply', () => {
  it('compares status canonically (the API server reorders keys)', () => {
    expect(canonical({ b: 1, a: { d: 2, c: 3 } })).toBe(canonical({ a: { c: 3, d: 2 }, b: 1 }));
  });

  it('merge-patches removed status fields to null', () => {
    expect(statusMergePatch({ replicas: 1, readyReplicas: 1, clients: 0 }, { replicas: 1, readyReplicas: 1, clients: 0, scaleDownSince: 'x' })).toEqual({
      status: { replicas: 1, readyReplicas: 1, clients: 0, scaleDownSince: null },
    });
  });

  it('records a drain it started, so the drain timeout runs from then', async () => {
    const names = ['conf-1', 'conf-2'];
    const m = makeMesh({ replicas: 1 }, { replicas: 2, readyReplicas: 2, clients: 2, desiredReplicas: 2 });
    const o = observed({ mesh: m, pods: names.map((n) => pod(n)), reports: peered(names, { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }) });
    const d = decide(o);
    const meshes = new Map([['media/conf', m]]);
    const kube = new FakeKube(meshes);
    const admin = new FakeReflectors();
    const drainingSince = new Map<string, number>();
    const result = await apply(d, {
      mesh: m,
      spec: { ...(await import('../../../operator/api/v1alpha1/index.js')).resolveSpec(m.spec).spec },
      pods: o.pods,
      token: undefined,
      meshKey: undefined,
      defaultImage: 'rmesh:test',
      kube,
      admin,
      podCache: { recordWrite() {}, recordDelete() {} },
      meshCache: { recordWrite() {} },
      recorder: new EventRecorder(kube, 'test'),
      drainingSince,
      log: quiet,
      now: () => 1234,
    });
    expect(result.errors).toEqual([]);
    expect(admin.calls).toEqual(['drain 10.0.0.2']);
    expect(drainingSince.get('conf-2')).toBe(1234);
  });
});

describe('EventRecorder', () => {
  it('drops a repeat of the same event within its window', async () => {
    const kube = new FakeKube(new Map());
    let t = 0;
    const recorder = new EventRecorder(kube, 'test', () => t);
    const m = makeMesh();
    const e = { type: 'Normal' as const, reason: 'ScalingUp', message: 'scaling from 1 reflector to 2' };
    await recorder.record(m, e);
    await recorder.record(m, e);
    t += 6 * 60_000;
    await recorder.record(m, e);
    expect(kube.events).toHaveLength(2);
    expect(kube.events[0]).toMatchObject({ type: 'Normal', reason: 'ScalingUp', involvedObject: { kind: 'ReflectorMesh', name: 'conf', uid: 'uid-conf' } });
  });
});
