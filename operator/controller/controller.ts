// The mesh controller: informers on meshes and reflector pods feed a work queue keyed by mesh; each
// worker pass observes one mesh (its pods, each reflector's GET /v1/status, its admin Secret), asks
// decide() what to do, and hands that to the applier. Passes repeat on changes, on timers the
// decision asks for, on a status refresh period, and with backoff after failures.
import type { V1Pod } from '@kubernetes/client-node';
import { resolveSpec, type ReflectorMesh, type ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import type { Informer } from '../informers/informer.js';
import type { KubeApi } from '../kube/kube-api.js';
import type { OperatorMetrics } from '../metrics.js';
import { forgetMeshCapacity, recordMeshCapacity } from '../mesh-metrics.js';
import { apply } from './apply.js';
import { decide } from './decide.js';
import { ensureMeshKeySecret } from './mesh-key-secret.js';
import { adminSigningKey, ROTATE_ANNOTATION, syncMeshKeySet } from './mesh-key-set-secret.js';
import { secretUseRefusal } from './secret-use.js';
import type { EventRecorder } from './events.js';
import { LABEL_MESH } from './labels.js';
import { nodeView, podView, type Observed, type PodView, type ReflectorReport } from './observed.js';
import { desiredTemplateHash } from './pod-template.js';
import type { ReflectorAdmin } from './reflector-admin.js';
import { WorkQueue } from './queue.js';
import { describeError } from '../errors.js';

export interface ControllerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ControllerOptions {
  meshes: Informer<ReflectorMesh>;
  pods: Informer<V1Pod>;
  kube: KubeApi;
  admin: ReflectorAdmin;
  recorder: EventRecorder;
  log: ControllerLogger;
  metrics?: OperatorMetrics;
  /** Image of reflector pods when a mesh names none. */
  defaultImage: string;
  /** Parallel workers (different meshes only). */
  workers: number;
  /** Every mesh is looked at again this often, to refresh client counts and autoscale. */
  statusRefreshMs: number;
  now?: () => number;
}


export class MeshController {
  readonly queue = new WorkQueue({ backoffInitialMs: 500, backoffMaxMs: 60_000 });
  /** Mesh key → pod name → when the operator first saw it draining. */
  private readonly draining = new Map<string, Map<string, number>>();
  /** Mesh key → how soon the key rotation wants the next pass (a step waiting on reflectors or the overlap). */
  private readonly rotationRequeue = new Map<string, number>();
  /** Mesh key → the generation last enqueued for: status-only updates do not wake the controller. */
  private readonly generations = new Map<string, number | undefined>();
  /** Mesh key → the admin token and the mesh key read by the last observe (what admin calls authenticate with). */
  private readonly credentials = new Map<string, { token: string | undefined; meshKey: Buffer | undefined }>();
  private workers: Promise<void>[] = [];
  private readonly now: () => number;

  constructor(private readonly o: ControllerOptions) {
    this.now = o.now ?? Date.now;
    o.meshes.onChange((type, mesh) => {
      const key = `${mesh.metadata.namespace}/${mesh.metadata.name}`;
      if (type === 'delete') {
        this.generations.delete(key);
        this.draining.delete(key);
        this.credentials.delete(key);
        return; // the garbage collector removes its pods (owner references); no finalizer.
      }
      if (type === 'update' && this.generations.get(key) === mesh.metadata.generation) return;
      this.generations.set(key, mesh.metadata.generation);
      this.queue.add(key);
    });
    o.pods.onChange((_type, pod) => {
      const mesh = pod.metadata?.labels?.[LABEL_MESH];
      if (mesh && pod.metadata?.namespace) this.queue.add(`${pod.metadata.namespace}/${mesh}`);
    });
  }

  start(): void {
    for (let i = 0; i < this.o.workers; i++) this.workers.push(this.work());
  }

  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.o.metrics?.queueDepth.set(this.queue.length);
      try {
        const requeueAfterMs = await this.reconcile(key);
        this.queue.forget(key);
        if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.o.log.warn({ mesh: key, err: describeError(err), retryInMs: delay, failures: this.queue.failuresOf(key) }, 'reconcile failed');
      } finally {
        this.queue.done(key);
        this.o.metrics?.queueDepth.set(this.queue.length);
      }
    }
  }

  /** One pass over one mesh; returns when to look again. Throws when the pass should be retried. */
  async reconcile(key: string): Promise<number | undefined> {
    const started = process.hrtime.bigint();
    const mesh = this.o.meshes.get(key);
    if (!mesh) {
      const [namespace = '', name = ''] = key.split('/');
      if (this.o.metrics) forgetMeshCapacity(this.o.metrics.registry, namespace, name);
      return undefined;
    }
    this.o.metrics?.meshes.set(this.o.meshes.list().length);
    try {
      const observed = await this.observe(key, mesh);
      const decision = decide(observed);
      if (decision.actions.length > 0) {
        this.o.log.info({ mesh: key, actions: decision.actions.map((a) => ('pod' in a ? `${a.type}:${a.pod}` : a.type)) }, 'reconcile');
      }
      const { spec } = resolveSpec(mesh.spec);
      if (this.o.metrics) recordMeshCapacity(this.o.metrics.registry, mesh, spec, decision.status);
      const result = await apply(decision, {
        mesh,
        spec,
        pods: observed.pods,
        token: this.credentials.get(key)?.token,
        meshKey: this.credentials.get(key)?.meshKey,
        defaultImage: this.o.defaultImage,
        kube: this.o.kube,
        admin: this.o.admin,
        podCache: this.o.pods,
        meshCache: this.o.meshes,
        recorder: this.o.recorder,
        drainingSince: this.drainingOf(key),
        log: this.o.log,
        now: this.now,
        ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
      });
      if (result.errors.length > 0) {
        this.o.metrics?.errors.inc({ stage: 'apply' });
        throw new Error(result.errors.join('; '));
      }
      this.o.metrics?.reconciles.inc({ result: 'success' });
      return Math.min(decision.requeueAfterMs ?? this.o.statusRefreshMs, this.rotationRequeue.get(key) ?? Infinity, this.o.statusRefreshMs);
    } catch (err) {
      this.o.metrics?.reconciles.inc({ result: 'error' });
      throw err;
    } finally {
      this.o.metrics?.reconcileDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** The mesh-key rotation's step for this pass (operator/controller/mesh-key-set-secret.ts); an event per step published. */
  private async rotateMeshKey(key: string, mesh: ReflectorMesh, spec: ReflectorMeshSpec, pods: PodView[], reports: Map<string, ReflectorReport>): Promise<void> {
    let sync;
    try {
      sync = await syncMeshKeySet(this.o.kube, mesh, spec, pods, reports, this.now());
    } catch (err) {
      this.o.metrics?.errors.inc({ stage: 'observe' });
      throw new Error(`writing the mesh key-set Secret: ${describeError(err)}`, { cause: err });
    }
    if (sync.requeueAfterMs === undefined) this.rotationRequeue.delete(key);
    else this.rotationRequeue.set(key, sync.requeueAfterMs);
    if (sync.problem) this.o.log.warn({ mesh: key, problem: sync.problem }, 'mesh key set');
    if (sync.waiting) this.o.log.info({ mesh: key, waiting: sync.waiting }, 'mesh key rotation');
    if (sync.regenerated) await this.o.recorder.record(mesh, { type: 'Normal', reason: 'MeshKeyGenerated', message: `a new mesh key was generated (${ROTATE_ANNOTATION}); the reflectors move to it in three steps` });
    const step = sync.publish?.step;
    if (step && step !== 'initial') {
      const message = { accept: 'step 1 of 3: every reflector accepts the new mesh key', sign: 'step 2 of 3: the reflectors sign with the new mesh key; the old one is still accepted', drop: 'step 3 of 3: the old mesh key is no longer accepted' }[step];
      this.o.log.info({ mesh: key, step }, message);
      await this.o.recorder.record(mesh, { type: 'Normal', reason: 'MeshKeyRotation', message });
    }
  }

  private drainingOf(key: string): Map<string, number> {
    let map = this.draining.get(key);
    if (!map) this.draining.set(key, (map = new Map<string, number>()));
    return map;
  }

  private async token(mesh: ReflectorMesh, ref: { name: string; key: string } | undefined): Promise<{ value?: string; problem?: string; refused?: string }> {
    if (!ref) return {};
    const secret = await this.o.kube.readSecret(mesh.metadata.namespace, ref.name);
    if (!secret) return { problem: `Secret ${mesh.metadata.namespace}/${ref.name} (spec.auth.adminTokenSecretRef) does not exist; create it, the reflector pods cannot start without it` };
    // Not opted in: its value is neither sent to the reflectors nor put in their pods.
    const refused = secretUseRefusal(mesh, ref.name, secret, 'admin-token');
    if (refused) return { refused };
    const value = secret.data[ref.key];
    if (!value) return { problem: `Secret ${mesh.metadata.namespace}/${ref.name} has no key "${ref.key}"` };
    return { value };
  }

  /** Everything decide() needs to know about one mesh. */
  async observe(key: string, mesh: ReflectorMesh): Promise<Observed> {
    const { spec } = resolveSpec(mesh.spec);
    const pods = this.o.pods
      .list()
      .filter((p) => p.metadata?.namespace === mesh.metadata.namespace && p.metadata?.ownerReferences?.some((r) => r.uid === mesh.metadata.uid))
      .map(podView);
    let secretProblem: string | undefined;
    const refusals: string[] = [];
    let token: string | undefined;
    let meshKey: Buffer | undefined;
    try {
      const t = await this.token(mesh, spec.auth?.adminTokenSecretRef);
      token = t.value;
      secretProblem = t.problem;
      if (t.refused) refusals.push(t.refused);
    } catch (err) {
      this.o.metrics?.errors.inc({ stage: 'observe' });
      throw new Error(`reading the admin Secret: ${describeError(err)}`, { cause: err });
    }
    try {
      const k = await ensureMeshKeySecret(this.o.kube, mesh, spec);
      if (k.problem) secretProblem = secretProblem ? `${secretProblem}; ${k.problem}` : k.problem;
      if (k.refused) refusals.push(k.refused);
      meshKey = await adminSigningKey(this.o.kube, mesh, k.key);
      this.credentials.set(key, { token, meshKey });
    } catch (err) {
      this.o.metrics?.errors.inc({ stage: 'observe' });
      throw new Error(`reading or creating the mesh key Secret: ${describeError(err)}`, { cause: err });
    }
    const reports = new Map<string, ReflectorReport>();
    const leaving = new Map<string, ReflectorReport>();
    const unreachable = new Map<string, string>();
    await Promise.all(
      pods
        .filter((p) => p.hostIP && p.phase === 'Running')
        .map(async (p) => {
          try {
            const report = await this.o.admin.status({ address: p.hostIP!, controlPort: spec.ports.control, ...(token ? { token } : {}), ...(meshKey ? { meshKey } : {}) });
            (p.terminating ? leaving : reports).set(p.name, report);
          } catch (err) {
            // A terminating reflector that no longer answers has simply finished leaving.
            if (!p.terminating) unreachable.set(p.name, describeError(err));
          }
        }),
    );
    // The key-set Secret the pods mount is written from the mesh's key Secret: never from one that did
    // not opt in (the confused deputy of docs/security.md).
    // The key-set Secret the pods mount is written from the mesh's key Secret: never from one that did
    // not opt in (the confused deputy of docs/security.md).
    if (refusals.length === 0) await this.rotateMeshKey(key, mesh, spec, pods, reports);
    // Forget drains of pods that are gone; remember reflectors found draining (after a restart too).
    const draining = this.drainingOf(key);
    const names = new Set(pods.map((p) => p.name));
    for (const name of draining.keys()) if (!names.has(name)) draining.delete(name);
    for (const [name, report] of reports) if (report.draining && !draining.has(name)) draining.set(name, this.now());
    let nodes: Observed['nodes'];
    if (spec.placement.addressType === 'ExternalIP') {
      try {
        nodes = (await this.o.kube.listNodes()).map(nodeView);
      } catch (err) {
        this.o.metrics?.errors.inc({ stage: 'observe' });
        throw new Error(`listing nodes for ExternalIP placement: ${describeError(err)}`, { cause: err });
      }
    }
    const observed: Observed = {
      mesh,
      pods,
      reports,
      leaving,
      unreachable,
      drainingSince: new Map<string, number>(draining),
      templateHash: desiredTemplateHash(mesh, spec, this.o.defaultImage),
      nowMs: this.now(),
    };
    if (secretProblem) observed.secretProblem = secretProblem;
    if (refusals.length > 0) observed.secretRefused = refusals.join('; ');
    if (nodes) observed.nodes = nodes;
    return observed;
  }
}
