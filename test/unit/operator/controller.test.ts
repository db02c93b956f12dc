// The controller with an in-memory cluster: a fake Kubernetes API (pods, status, events, secrets) and
// fake reflectors behind the admin API. Passes of observe → decide → apply converge a mesh: pods are
// created, wired, scaled down by draining first, and status and events are written.
/* eslint-disable @typescript-eslint/require-await -- the fakes implement async interfaces synchronously */
import { meshKeyId, meshKeySetIds, parseMeshKeySet, type MeshKeySetIds } from '../../../protocol/security/mesh-key-set.js';
import type { CoreV1Event, V1Node, V1Pod, V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { ReflectorInfo } from '../../../protocol/api-schemas.js';
import type { ReflectorMesh, ReflectorMeshStatus } from '../../../operator/api/v1alpha1/index.js';
import { apply, canonical } from '../../../operator/controller/apply.js';
import { MeshController } from '../../../operator/controller/controller.js';
import { decide } from '../../../operator/controller/decide.js';
import { SECRET_OPT_IN_LABELS, type SecretPurpose } from '../../../operator/controller/secret-use.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import type { ReflectorReport, ReportedClient } from '../../../operator/controller/observed.js';
import type { ReflectorAdmin, ReflectorTarget } from '../../../operator/controller/reflector-admin.js';
import { Informer, type ListWatchSource } from '../../../operator/informers/informer.js';
import { statusMergePatch, type KubeApi } from '../../../operator/kube/kube-api.js';
import { clients, mesh as makeMesh, observed, peered, pod } from './fixtures.js';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A source that lists what the test holds and whose watch never says anything. */
function staticSource<T>(items: () => T[]): ListWatchSource<T> {
  return {
    name: 'static',
    list: async () => ({ items: items(), resourceVersion: '1' }),
    watch: async () => ({ abort() {} }),
  };
}

class FakeKube implements KubeApi {
  pods = new Map<string, V1Pod>();
  events: CoreV1Event[] = [];
  statusWrites = 0;
  secrets = new Map<string, Record<string, string>>();
  /** Labels and owner uids of each Secret (who may use it: operator/controller/secret-use.ts). */
  readonly secretMeta = new Map<string, { labels: Record<string, string>; ownerUids: string[] }>();
  createdSecrets: V1Secret[] = [];
  failCreates = 0;
  nodes: V1Node[] = [];
  private seq = 0;
  constructor(private readonly meshes: Map<string, ReflectorMesh>) {}

  async createPod(namespace: string, pod: V1Pod): Promise<V1Pod> {
    if (this.failCreates > 0) {
      this.failCreates--;
      throw new Error('admission webhook said no');
    }
    const name = `${pod.metadata!.generateName}${(++this.seq).toString(36).padStart(5, '0')}`;
    const created: V1Pod = { ...structuredClone(pod), metadata: { ...structuredClone(pod.metadata), name, namespace, uid: `uid-${name}`, resourceVersion: String(this.seq) }, status: { phase: 'Pending' } };
    this.pods.set(name, created);
    return created;
  }
  async deletePod(_namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    const p = this.pods.get(name);
    if (!p || p.metadata!.uid !== uid) return undefined;
    this.pods.delete(name);
    return undefined;
  }
  async patchMeshStatus(namespace: string, name: string, status: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined): Promise<ReflectorMesh> {
    this.statusWrites++;
    const m = this.meshes.get(`${namespace}/${name}`)!;
    const patch = statusMergePatch(status, previous).status as Record<string, unknown>;
    const next = { ...(m.status ?? {}), ...patch } as Record<string, unknown>;
    for (const [k, v] of Object.entries(next)) if (v === null) delete next[k];
    m.status = next as unknown as ReflectorMeshStatus;
    m.metadata.resourceVersion = String(Number(m.metadata.resourceVersion ?? '0') + 1);
    return structuredClone(m);
  }
  async readSecret(namespace: string, name: string) {
    const id = `${namespace}/${name}`;
    const data = this.secrets.get(id);
    return data && { data, ...(this.secretMeta.get(id) ?? { labels: {}, ownerUids: [] }) };
  }
  /** Stores the Secret's data decoded, as a mounted Secret or a secretKeyRef shows it. */
  async createSecret(namespace: string, secret: V1Secret): Promise<boolean> {
    const id = `${namespace}/${secret.metadata!.name!}`;
    if (this.secrets.has(id)) return false;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
    this.createdSecrets.push(structuredClone(secret));
    return true;
  }
  async writeSecret(namespace: string, secret: V1Secret): Promise<void> {
    const id = `${namespace}/${secret.metadata!.name!}`;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
  }
  async createEvent(_namespace: string, event: CoreV1Event) {
    this.events.push(event);
  }
  async listNodes() {
    return this.nodes;
  }

  /** The kubelet's part: schedule pending pods on their own node and make them ready. */
  runPods(): void {
    let i = 0;
    for (const p of this.pods.values()) {
      i++;
      if (p.status?.phase === 'Pending') {
        p.spec = { ...p.spec!, nodeName: p.spec?.nodeName ?? `node-${p.metadata!.name}` };
        p.status = { phase: 'Running', hostIP: `10.1.0.${i}`, conditions: [{ type: 'Ready', status: 'True' }] };
        p.metadata!.resourceVersion = String(Number(p.metadata!.resourceVersion) + 1000);
      }
    }
  }
}

/** Reflectors as the admin API shows them, keyed by address. */
class FakeReflectors implements ReflectorAdmin {
  state = new Map<string, { id?: string; clients: ReportedClient[]; peers: string[]; draining: boolean }>();
  /** The key set every reflector reports (as if its volume and file were read at once), unless it is held in `staleKeys`. */
  keys: () => MeshKeySetIds | undefined = () => undefined;
  staleKeys = new Map<string, MeshKeySetIds>();
  calls: string[] = [];
  tokens = new Set<string | undefined>();
  /** The mesh keys (base64) admin calls were signed with. */
  meshKeys = new Set<string | undefined>();
  private at(t: ReflectorTarget) {
    this.tokens.add(t.token);
    this.meshKeys.add(t.meshKey?.toString('base64'));
    let s = this.state.get(t.address);
    if (!s) this.state.set(t.address, (s = { clients: [], peers: [], draining: false }));
    return s;
  }
  async status(t: ReflectorTarget): Promise<ReflectorReport> {
    const s = this.at(t);
    const meshKeys = this.staleKeys.get(t.address) ?? this.keys();
    return { draining: s.draining, clients: [...s.clients], peers: [...s.peers], outboundStreams: 0, outboundBitsPerSecond: 0, ...(meshKeys ? { meshKeys } : {}) };
  }
  async setPeers(t: ReflectorTarget, peers: ReflectorInfo[]) {
    this.calls.push(`setPeers ${t.address} ${peers.map((p) => p.address).join(',')}`);
    this.at(t).peers = peers.map((p) => p.id);
  }
  async drain(t: ReflectorTarget, exclude: string[]) {
    this.calls.push(`drain ${t.address}`);
    const s = this.at(t);
    s.draining = true;
    // Clients move to the first other reflector not excluded.
    const [addr] = [...this.state.entries()].find(([a, o]) => a !== t.address && !o.draining && !exclude.includes(o.id ?? '')) ?? [];
    if (addr) this.state.get(addr)!.clients.push(...s.clients);
    s.clients = [];
  }
  async migrate(t: ReflectorTarget, clientId: string, to: string) {
    this.calls.push(`migrate ${clientId}`);
    void to;
  }
}

/** Labels a Secret of the fake cluster as meant for meshes (operator/controller/secret-use.ts). */
function optIn(c: { kube: FakeKube }, id: string, purpose: SecretPurpose): void {
  c.kube.secretMeta.set(id, { labels: { [SECRET_OPT_IN_LABELS[purpose]]: 'true' }, ownerUids: [] });
}

function setup(spec: Parameters<typeof makeMesh>[0]) {
  const meshes = new Map<string, ReflectorMesh>();
  const m = makeMesh(spec);
  m.metadata.resourceVersion = '1';
  meshes.set('media/conf', m);
  const kube = new FakeKube(meshes);
  const reflectors = new FakeReflectors();
  reflectors.keys = () => {
    const text = kube.secrets.get('media/conf-mesh-keys')?.keys;
    return text === undefined ? undefined : meshKeySetIds(parseMeshKeySet(text, 'key-set Secret'));
  };
  const meshInformer = new Informer<ReflectorMesh>(staticSource(() => [...meshes.values()].map((x) => structuredClone(x))), { resyncMs: 0, silenceMs: 60_000 });
  const podInformer = new Informer<V1Pod>(staticSource(() => [...kube.pods.values()].map((x) => structuredClone(x))), { resyncMs: 0, silenceMs: 60_000 });
  const controller = new MeshController({
    meshes: meshInformer,
    pods: podInformer,
    kube,
    admin: reflectors,
    recorder: new EventRecorder(kube, 'test'),
    log: quiet,
    defaultImage: 'rmesh:test',
    workers: 1,
    statusRefreshMs: 10_000,
  });
  /** One pass with fresh caches (as if every watch event had arrived). */
  const pass = async () => {
    for (const p of kube.pods.values()) podInformer.upsert(structuredClone(p));
    for (const known of podInformer.list()) if (!kube.pods.has(known.metadata!.name!)) podInformer.forget(`media/${known.metadata!.name}`);
    meshInformer.upsert(structuredClone(meshes.get('media/conf')!));
    return controller.reconcile('media/conf');
  };
  return { meshes, kube, reflectors, meshInformer, podInformer, pass, mesh: () => meshes.get('media/conf')! };
}

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

describe('mesh key Secret', () => {
  it('creates <mesh>-mesh-key once (32 random bytes, base64, owned by the mesh) and never overwrites it', async () => {
    const c = setup({ replicas: 1 });
    await c.pass();
    expect(c.kube.createdSecrets).toHaveLength(1);
    const secret = c.kube.createdSecrets[0]!;
    expect(secret.metadata).toMatchObject({ name: 'conf-mesh-key', namespace: 'media' });
    expect(secret.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReflectorMesh', name: 'conf', uid: c.mesh().metadata.uid, controller: true })]);
    const key = c.kube.secrets.get('media/conf-mesh-key')!.key!;
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    // What the pods mount: the operator's key-set Secret, holding that key alone.
    expect(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set').current).toEqual(Buffer.from(key, 'base64'));
    c.kube.runPods();
    await c.pass();
    await c.pass();
    expect(c.kube.createdSecrets).toHaveLength(1);
    expect(c.kube.secrets.get('media/conf-mesh-key')!.key).toBe(key);
    // Admin calls are signed with that key (a keyed mesh's admin routes need it), no admin token set.
    expect([...c.reflectors.meshKeys]).toEqual([key]);
  });

  it('uses a named Secret without creating one, and reports it missing or too short', async () => {
    const c = setup({ replicas: 1, auth: { meshKeySecretRef: { name: 'my-key', key: 'k' } } });
    await c.pass();
    expect(c.kube.createdSecrets).toEqual([]);
    const missing = c.mesh().status!.conditions!.find((x) => x.type === 'Degraded');
    expect(missing).toMatchObject({ status: 'True', reason: 'SecretMissing' });
    expect(missing!.message).toMatch(/my-key.*meshKeySecretRef.*does not exist/);
    c.kube.secrets.set('media/my-key', { k: Buffer.alloc(8).toString('base64') });
    optIn(c, 'media/my-key', 'mesh-key');
    await c.pass();
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!.message).toMatch(/at least 32 bytes/);
    c.kube.secrets.set('media/my-key', { k: Buffer.alloc(32, 9).toString('base64') });
    c.kube.runPods();
    await c.pass();
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')?.reason).not.toBe('SecretMissing');
    expect(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set').current).toEqual(Buffer.alloc(32, 9));
  });

  it('rotates the key in three steps, each once every reflector holds the one before, on a new key in a named Secret', async () => {
    const c = setup({ replicas: 2, auth: { meshKeySecretRef: { name: 'my-key', key: 'k' } } });
    c.mesh().metadata.annotations = { 'rmesh.io/mesh-key-overlap-seconds': '0' };
    const [K0, K1] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    c.kube.secrets.set('media/my-key', { k: K0.toString('base64') });
    optIn(c, 'media/my-key', 'mesh-key');
    await c.pass();
    c.kube.runPods();
    await c.pass();
    const published = () => meshKeySetIds(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set'));
    const [id0, id1] = [meshKeyId(K0), meshKeyId(K1)];
    expect(published()).toEqual({ current: id0, accepted: [] });

    c.kube.secrets.set('media/my-key', { k: K1.toString('base64') });
    const lagging = [...c.reflectors.state.keys()][0]!;
    c.reflectors.staleKeys.set(lagging, { current: id0, accepted: [] }); // its volume not updated yet
    await c.pass();
    expect(published()).toEqual({ current: id0, accepted: [id1] });
    await c.pass();
    await c.pass();
    expect(published()).toEqual({ current: id0, accepted: [id1] }); // waits for the laggard
    c.reflectors.staleKeys.delete(lagging);
    await c.pass();
    expect(published()).toEqual({ current: id1, accepted: [id0] });
    await c.pass();
    expect(published()).toEqual({ current: id1, accepted: [] });
    await c.pass();
    expect(published()).toEqual({ current: id1, accepted: [] });
    expect(c.kube.events.filter((e) => e.reason === 'MeshKeyRotation').map((e) => e.message!.slice(0, 11))).toEqual(['step 1 of 3', 'step 2 of 3', 'step 3 of 3']);
    expect(c.kube.pods.size).toBe(2); // no pod replaced: the volume carries every step
  });

  it('makes a new generated key when asked by the rotate annotation, once per value', async () => {
    const c = setup({ replicas: 1 });
    await c.pass();
    const first = c.kube.secrets.get('media/conf-mesh-key')!.key!;
    c.mesh().metadata.annotations = { 'rmesh.io/rotate-mesh-key': '2026-12-06' };
    await c.pass();
    const second = c.kube.secrets.get('media/conf-mesh-key')!.key!;
    expect(second).not.toBe(first);
    expect(Buffer.from(second, 'base64')).toHaveLength(32);
    expect(published(c)).toEqual({ current: meshKeyId(Buffer.from(first, 'base64')), accepted: [meshKeyId(Buffer.from(second, 'base64'))] });
    await c.pass();
    expect(c.kube.secrets.get('media/conf-mesh-key')!.key).toBe(second);
    expect(c.kube.events.map((e) => e.reason)).toContain('MeshKeyGenerated');
  });
});

function published(c: ReturnType<typeof setup>): MeshKeySetIds {
  return meshKeySetIds(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set'));
}

describe('Secrets through the operator (confused deputy)', () => {
  // Whoever may create a mesh names the Secrets and the image; the victim's Secrets did not opt in.
  const VICTIM_KEY = Buffer.alloc(32, 0x5a).toString('base64');

  it('creates no pod carrying a mesh key Secret that did not opt in, says why, and goes on once it does', async () => {
    const c = setup({ replicas: 2, auth: { meshKeySecretRef: { name: 'payments-signing', key: 'key' } }, reflector: { image: 'evil.example/steal:1' } });
    c.kube.secrets.set('media/payments-signing', { key: VICTIM_KEY });
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect(c.kube.createdSecrets).toEqual([]);
    const degraded = c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'SecretNotAllowed' });
    expect(degraded.message).toMatch(/Secret media\/payments-signing \(spec\.auth\.meshKeySecretRef\) has not opted in.*kubectl -n media label secret payments-signing rmesh\.io\/mesh-key=true/);
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'SecretNotAllowed' });
    expect(c.kube.events.map((e) => [e.type, e.reason])).toContainEqual(['Warning', 'SecretNotAllowed']);
    // The status never shows anything of the Secret's content.
    expect(JSON.stringify(c.mesh().status)).not.toContain(VICTIM_KEY);
    // Nor is it copied into the key-set Secret the pods mount (the rotation's output).
    expect(c.kube.secrets.has('media/conf-mesh-keys')).toBe(false);
    optIn(c, 'media/payments-signing', 'mesh-key');
    await c.pass();
    expect(c.kube.pods.size).toBe(2);
  });

  it('neither sends an admin token Secret that did not opt in to the reflectors nor puts it in pods', async () => {
    const c = setup({ replicas: 1, auth: { adminTokenSecretRef: { name: 'db-password', key: 'password' } } });
    c.kube.secrets.set('media/db-password', { password: 'hunter2' });
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect([...c.reflectors.tokens]).not.toContain('hunter2');
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!.message).toMatch(/db-password \(spec\.auth\.adminTokenSecretRef\).*rmesh\.io\/admin-token=true/);
    // A label for the other purpose is not enough.
    optIn(c, 'media/db-password', 'mesh-key');
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
  });

  it('takes the key it generated for this mesh only: not another mesh\'s, not a same-named Secret it did not make', async () => {
    const c = setup({ replicas: 1, auth: { meshKeySecretRef: { name: 'other-mesh-key', key: 'key' } } });
    c.kube.secrets.set('media/other-mesh-key', { key: VICTIM_KEY });
    c.kube.secretMeta.set('media/other-mesh-key', { labels: { 'app.kubernetes.io/managed-by': 'reflector-mesh-operator' }, ownerUids: ['uid-of-mesh-other'] });
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')?.reason).toBe('SecretNotAllowed');

    // No ref: the generated name conf-mesh-key, but a Secret of that name exists that the operator did not make.
    const d = setup({ replicas: 1 });
    d.kube.secrets.set('media/conf-mesh-key', { key: VICTIM_KEY });
    await d.pass();
    expect(d.kube.pods.size).toBe(0);
    expect(d.mesh().status!.conditions!.find((x) => x.type === 'Degraded')?.reason).toBe('SecretNotAllowed');
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
    expect(created.map((p) => p.spec!.nodeName).sort()).toEqual(['n1', 'n3']);
    for (const p of created) {
      const advertised = p.spec!.containers[0]!.env!.find((e) => e.name === 'RMESH_ADVERTISE_ADDRESS')!.value;
      expect(advertised).toBe(p.spec!.nodeName === 'n1' ? '203.0.113.1' : '203.0.113.3');
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
      podCache: { upsert() {}, forget() {} },
      meshCache: { upsert() {} },
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
