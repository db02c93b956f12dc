// The controller's test set-up shared by controller.test.ts and controller-secrets.test.ts: an
// in-memory cluster (the fake Kubernetes API of test/support/fake-kube.ts) and fake reflectors behind
// the admin API, with one pass of observe → decide → apply at a time.
/* eslint-disable @typescript-eslint/require-await -- the fakes implement async interfaces synchronously */
import { meshKeySetIds, parseMeshKeySet, type MeshKeySetIds } from '../../../protocol/security/mesh-key-set.js';
import type { V1Node, V1Pod, V1PodDisruptionBudget, V1Secret } from '@kubernetes/client-node';
import type { ReflectorInfo } from '../../../protocol/api-schemas.js';
import type { ReflectorMesh } from '../../../operator/api/v1alpha1/index.js';
import { MeshController, type ControllerOptions } from '../../../operator/controller/controller.js';
import { SECRET_OPT_IN_LABELS, type SecretPurpose } from '../../../operator/controller/secret-use.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import type { ReflectorReport, ReportedClient } from '../../../operator/controller/observed.js';
import type { ReflectorAdmin, ReflectorTarget } from '../../../operator/controller/reflector-admin.js';
import { Informer, type ListWatchSource } from '../../../operator/informers/informer.js';
import { SECRET_SELECTORS, SecretCache } from '../../../operator/informers/secret-cache.js';
import { mesh as makeMesh } from './fixtures.js';
import { FakeKube } from '../../support/fake-kube.js';

export const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A source that lists what the test holds and whose watch never says anything. */
export function staticSource<T>(items: () => T[]): ListWatchSource<T> {
  return {
    name: 'static',
    list: async () => ({ items: items(), resourceVersion: '1' }),
    watch: async () => ({ abort() {} }),
  };
}

/** Reflectors as the admin API shows them, keyed by address. */
export class FakeReflectors implements ReflectorAdmin {
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
export function optIn(c: { kube: FakeKube }, id: string, purpose: SecretPurpose): void {
  c.kube.secretMeta.set(id, { labels: { [SECRET_OPT_IN_LABELS[purpose]]: 'true' }, ownerUids: [] });
}

/**
 * A cache holding `items` (as if every watch event had arrived): started once so that it has synced
 * (its watch never says anything), then kept in step by recording writes and deletions.
 */
export async function mirror<T extends V1Node | V1PodDisruptionBudget | V1Secret>(informer: Informer<T>, items: T[]): Promise<void> {
  informer.start();
  while (!informer.hasSynced()) await new Promise((r) => setImmediate(r));
  const keys = new Set<string>();
  for (const item of items) {
    informer.recordWrite(structuredClone(item));
    keys.add(`${item.metadata?.namespace ?? ''}/${item.metadata?.name ?? ''}`);
  }
  for (const known of informer.list()) {
    const key = `${known.metadata?.namespace ?? ''}/${known.metadata?.name ?? ''}`;
    if (!keys.has(key)) informer.recordDelete(key);
  }
}

/** `options`: more controller options (metrics, a clock, the status write interval). */
export function setup(spec: Parameters<typeof makeMesh>[0], options: Partial<ControllerOptions> = {}) {
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
  const nodeInformer = new Informer<V1Node>(staticSource(() => []), { resyncMs: 0, silenceMs: 60_000 });
  const budgetInformer = new Informer<V1PodDisruptionBudget>(staticSource(() => []), { resyncMs: 0, silenceMs: 60_000 });
  // The Secrets through the operator's label-selected caches, as in production (secret-cache.ts).
  const secretCaches = SECRET_SELECTORS.map((s) => ({ informer: new Informer<V1Secret>(staticSource(() => []), { resyncMs: 0, silenceMs: 60_000 }), matches: s.matches }));
  const controller = new MeshController({
    meshes: meshInformer,
    pods: podInformer,
    nodes: nodeInformer,
    budgets: budgetInformer,
    secrets: new SecretCache(secretCaches),
    kube,
    admin: reflectors,
    recorder: new EventRecorder(kube, 'test'),
    log: quiet,
    defaultImage: 'rmesh:test',
    workers: 1,
    statusRefreshMs: 10_000,
    ...options,
  });
  const refresh = async () => {
    await mirror(nodeInformer, kube.nodes);
    await mirror(budgetInformer, [...kube.budgets.values()]);
    for (const c of secretCaches) await mirror(c.informer, kube.listSecrets().filter((x) => c.matches(x.metadata?.labels ?? {})));
  };
  /** One pass with fresh caches (as if every watch event had arrived). */
  const pass = async () => {
    for (const p of kube.pods.values()) podInformer.recordWrite(structuredClone(p));
    for (const known of podInformer.list()) if (!kube.pods.has(known.metadata!.name!)) podInformer.recordDelete(`media/${known.metadata!.name}`);
    meshInformer.recordWrite(structuredClone(meshes.get('media/conf')!));
    await refresh();
    return controller.reconcile('media/conf');
  };
  const observe = async () => {
    await refresh();
    return controller.observe('media/conf', meshes.get('media/conf')!);
  };
  return { meshes, kube, reflectors, meshInformer, podInformer, pass, observe, mesh: () => meshes.get('media/conf')! };
}

export function published(c: ReturnType<typeof setup>): MeshKeySetIds {
  return meshKeySetIds(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set'));
}
