// The mesh controller: informers on meshes and reflector pods feed a work queue keyed by mesh; each
// worker pass observes one mesh (its pods, each reflector's GET /v1/status, its Secrets, from caches
// its PodDisruptionBudget and, for ExternalIP meshes, the nodes), asks
// decide() what to do, and hands that to the applier. Passes repeat on changes, on timers the
// decision asks for, on a status refresh period, and with backoff after failures.
import { randomBytes } from 'node:crypto';
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { resolveSpec, type ReflectorMesh } from '../api/v1alpha1/index.js';
import type { Informer } from '../informers/informer.js';
import { secretView, type KubeApi, type SecretView } from '../kube/kube-api.js';
import type { SecretCache } from '../informers/secret-cache.js';
import { CONTROLLER_NAME, type OperatorMetrics } from '../metrics.js';
import type { ReconcileResult } from '../standard-metrics.js';
import { forgetMeshCapacity, recordMeshCapacity, recordReflectorRates } from '../mesh-metrics.js';
import { STATUS_WRITE_INTERVAL_MS } from './status-writes.js';
import { forgetMeshConditions, recordMeshConditions } from '../condition-metrics.js';
import { apply } from './apply.js';
import { decide } from './decide.js';
import { MESH_KEY_BYTES, meshKeyIn, meshKeySecretRef } from './mesh-key-secret.js';
import { adminSigningKey, keySetSecretName } from './mesh-key-set-secret.js';
import { disruptionBudgetName } from './disruption-budget.js';
import { secretUseRefusal } from './secret-use.js';
import type { EventRecorder } from './events.js';
import { LABEL_MESH } from './labels.js';
import { nodeView, podView, type Observed, type ReflectorReport } from './observed.js';
import { desiredTemplateHash } from './pod-template.js';
import type { ReflectorAdmin } from './reflector-admin.js';
import { WorkQueue } from './queue.js';
import { RollOutGate, rollOutStates } from './roll-out-gate.js';
import type { ActionFailure } from './failures.js';
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
  /** The cluster's nodes, read only for ExternalIP meshes (the operator picks their nodes); required for them. */
  nodes?: Informer<V1Node>;
  /** The Secrets the operator may read, cached; without it (or on a miss) they are read from the API. */
  secrets?: SecretCache;
  /** The meshes' PodDisruptionBudgets; without it the operator manages none. */
  budgets?: Informer<V1PodDisruptionBudget>;
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
  /** A pass running longer than this makes the worker count as stuck (/healthz); default STUCK_WORKER_MS. */
  stuckWorkerMs?: number;
  /** Least time between status writes of a mesh when only fast-moving numbers changed; default STATUS_WRITE_INTERVAL_MS. */
  statusWriteIntervalMs?: number;
  /** False when this process may no longer act (leadership lost): a pass then changes nothing. */
  mayAct?: () => boolean;
  now?: () => number;
}

/**
 * Every call a pass makes is bounded (reflector admin calls, the API client's timeouts), so a pass this
 * long means a worker is stuck: /healthz fails and the kubelet restarts the operator.
 */
export const STUCK_WORKER_MS = 5 * 60_000;


export class MeshController {
  readonly queue = new WorkQueue({ backoffInitialMs: 500, backoffMaxMs: 60_000 });
  /** Mesh key → pod name → when the operator first saw it draining. */
  private readonly draining = new Map<string, Map<string, number>>();
  /** Mesh key → the generation last enqueued for: status-only updates do not wake the controller. */
  private readonly generations = new Map<string, number | undefined>();
  /** Mesh key → the admin token and the mesh key read by the last observe (what admin calls authenticate with). */
  private readonly credentials = new Map<string, { token: string | undefined; meshKey: Buffer | undefined }>();
  private workers: Promise<void>[] = [];
  /** Mesh key → when scale-down removals started (the rate policy's memory; an hour is the longest period). */
  private readonly removals = new Map<string, number[]>();
  /** Mesh key → the actions its last pass saw refused (reported by the next decision). */
  private readonly failures = new Map<string, ActionFailure[]>();
  /** Mesh key → when this process last wrote its status. */
  private readonly statusWrittenAt = new Map<string, number>();
  /** Mesh key → when its pass in progress started. */
  private readonly inFlight = new Map<string, number>();
  /** Which mesh may roll out a new pod template now: one at a time across the operator. */
  private readonly rollOutGate = new RollOutGate();
  private readonly now: () => number;

  constructor(private readonly o: ControllerOptions) {
    this.now = o.now ?? Date.now;
    if (o.metrics) {
      o.metrics.controller.init(CONTROLLER_NAME, o.workers);
      this.queue.instrument(o.metrics.workQueue.of(CONTROLLER_NAME, this.queue));
    }
    o.meshes.onChange((type, mesh) => {
      const key = `${mesh.metadata.namespace}/${mesh.metadata.name}`;
      if (type === 'delete') {
        this.generations.delete(key);
        this.draining.delete(key);
        this.credentials.delete(key);
        this.removals.delete(key);
        this.failures.delete(key);
        this.statusWrittenAt.delete(key);
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
    // A budget deleted by hand is made again at once (its status updates follow the pods, which wake the mesh anyway).
    o.budgets?.onChange((type, budget) => {
      const mesh = budget.metadata?.labels?.[LABEL_MESH];
      if (type === 'delete' && mesh && budget.metadata?.namespace) this.queue.add(`${budget.metadata.namespace}/${mesh}`);
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
      this.inFlight.set(key, this.now());
      this.o.metrics?.controller.workerBusy(CONTROLLER_NAME, true);
      try {
        const requeueAfterMs = await this.reconcile(key);
        this.queue.resetBackoff(key);
        if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.o.log.warn({ mesh: key, err: describeError(err), retryInMs: delay, failures: this.queue.failuresOf(key) }, 'reconcile failed');
      } finally {
        this.inFlight.delete(key);
        this.o.metrics?.controller.workerBusy(CONTROLLER_NAME, false);
        this.queue.done(key);
      }
    }
  }

  /** How long the longest pass in progress has run (0 when none). */
  longestRunningMs(): number {
    const now = this.now();
    let longest = 0;
    for (const started of this.inFlight.values()) longest = Math.max(longest, now - started);
    return longest;
  }

  /** For /healthz: why a worker counts as stuck, or undefined. */
  stuckWorker(): string | undefined {
    const limit = this.o.stuckWorkerMs ?? STUCK_WORKER_MS;
    const now = this.now();
    for (const [key, started] of this.inFlight) {
      if (now - started >= limit) return `the pass over mesh ${key} has run for ${Math.round((now - started) / 1000)} s (limit ${Math.round(limit / 1000)} s)`;
    }
    return undefined;
  }

  /**
   * One pass over one mesh; returns when to look again. Throws when the pass should be retried.
   * Counted as controller-runtime counts a Reconcile: error when it throws, requeue_after when it
   * asks to look again after a time (every pass over a live mesh does: the status refresh), success
   * otherwise (the mesh is gone).
   */
  async reconcile(key: string): Promise<number | undefined> {
    const started = process.hrtime.bigint();
    let result: ReconcileResult = 'error';
    try {
      const requeueAfterMs = await this.pass(key);
      result = requeueAfterMs !== undefined && requeueAfterMs > 0 ? 'requeue_after' : 'success';
      return requeueAfterMs;
    } finally {
      this.o.metrics?.controller.reconciled(CONTROLLER_NAME, result, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async pass(key: string): Promise<number | undefined> {
    const mesh = this.o.meshes.get(key);
    if (!mesh) {
      const [namespace = '', name = ''] = key.split('/');
      if (this.o.metrics) forgetMeshCapacity(this.o.metrics.registry, namespace, name);
      if (this.o.metrics) forgetMeshConditions(this.o.metrics.registry, namespace, name);
      return undefined;
    }
    this.o.metrics?.meshes.set(this.o.meshes.list().length);
    const observed = await this.observe(key, mesh);
    // Taken in the same synchronous step as the decision: no other worker's pass can come between.
    const gate = this.rollOutGate.turn(rollOutStates(this.o.meshes.list(), this.o.pods.list(), this.o.defaultImage));
    if (gate.turn !== undefined) observed.rollOutTurn = gate.turn;
    if (gate.passedTo !== undefined && gate.passedTo !== key) this.queue.add(gate.passedTo);
    const decision = decide(observed);
    // Leadership can be lost while a pass observes: a former leader must not act on what it saw.
    if (this.o.mayAct && !this.o.mayAct()) throw new Error('not the leader any more; nothing applied');
    if (decision.actions.length > 0) {
      this.o.log.info({ mesh: key, actions: decision.actions.map((a) => ('pod' in a ? `${a.type}:${a.pod}` : a.type)) }, 'reconcile');
    }
    const { spec } = resolveSpec(mesh.spec);
    if (this.o.metrics) {
      recordMeshCapacity(this.o.metrics.registry, mesh, spec, decision.status);
      recordMeshConditions(this.o.metrics.registry, mesh, decision.status);
      recordReflectorRates(this.o.metrics.registry, mesh, observed.reports);
    }
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
      ...(this.o.budgets ? { budgetCache: this.o.budgets } : {}),
      ...(this.o.secrets ? { secretCache: this.o.secrets } : {}),
      recorder: this.o.recorder,
      drainingSince: this.drainingOf(key),
      log: this.o.log,
      now: this.now,
      statusWrites: { lastWriteMs: this.statusWrittenAt.get(key), intervalMs: this.o.statusWriteIntervalMs ?? STATUS_WRITE_INTERVAL_MS },
      ...(this.o.metrics ? { metrics: this.o.metrics } : {}),
    });
    if (result.statusWritten) this.statusWrittenAt.set(key, this.now());
    this.failures.set(key, result.failures);
    // Counted even when some action failed: the rate policy errs on the side of fewer removals.
    if (decision.removals) this.removalsOf(key).push(...Array<number>(decision.removals).fill(this.now()));
    if (result.errors.length > 0) {
      this.o.metrics?.errors.inc({ stage: 'apply' });
      throw new Error(result.errors.join('; '));
    }
    // A deferred status write is made by the first pass after its interval.
    return Math.min(decision.requeueAfterMs ?? this.o.statusRefreshMs, this.o.statusRefreshMs, result.statusDeferredMs ?? Infinity);
  }

  /** Removals within the last hour (the longest spec.scaling.scaleDown.periodSeconds). */
  private removalsOf(key: string): number[] {
    const now = this.now();
    const recent = (this.removals.get(key) ?? []).filter((t) => now - t < 3_600_000);
    this.removals.set(key, recent);
    return recent;
  }

  private drainingOf(key: string): Map<string, number> {
    let map = this.draining.get(key);
    if (!map) this.draining.set(key, (map = new Map<string, number>()));
    return map;
  }

  /** From the Secret caches; a Secret they do not hold is asked of the API (missing, not opted in, or new). */
  private async readSecret(namespace: string, name: string): Promise<SecretView | undefined> {
    const cached = this.o.secrets?.hasSynced() ? this.o.secrets.get(namespace, name) : undefined;
    return cached ? secretView(cached) : this.o.kube.readSecret(namespace, name);
  }

  private async token(mesh: ReflectorMesh, ref: { name: string; key: string } | undefined): Promise<{ value?: string; problem?: string; refused?: string }> {
    if (!ref) return {};
    const secret = await this.readSecret(mesh.metadata.namespace, ref.name);
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
    // Read only: creating or rotating the mesh key's Secrets is the mesh-key phase's (decide.ts).
    let meshKeys: Observed['meshKeys'];
    try {
      const ref = meshKeySecretRef(mesh, spec);
      const source = await this.readSecret(mesh.metadata.namespace, ref.name);
      const keySet = await this.readSecret(mesh.metadata.namespace, keySetSecretName(mesh));
      // The key a new generated Secret would hold: drawn here so that decide() stays pure.
      const fresh = randomBytes(MESH_KEY_BYTES);
      meshKeys = { fresh, ...(source ? { source } : {}), ...(keySet ? { keySet } : {}) };
      const fallback = meshKeyIn(mesh, ref, source) ?? (!source && ref.generated ? fresh : undefined);
      meshKey = adminSigningKey(mesh, keySet, fallback);
      this.credentials.set(key, { token, meshKey });
    } catch (err) {
      this.o.metrics?.errors.inc({ stage: 'observe' });
      throw new Error(`reading the mesh key Secrets: ${describeError(err)}`, { cause: err });
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
    // Forget drains of pods that are gone; remember reflectors found draining (after a restart too).
    const draining = this.drainingOf(key);
    const names = new Set(pods.map((p) => p.name));
    for (const name of draining.keys()) if (!names.has(name)) draining.delete(name);
    for (const [name, report] of reports) if (report.draining && !draining.has(name)) draining.set(name, this.now());
    let nodes: Observed['nodes'];
    if (spec.placement.addressType === 'ExternalIP') {
      // From the node informer's cache: no LIST of every node on every pass.
      if (!this.o.nodes?.hasSynced()) {
        this.o.metrics?.errors.inc({ stage: 'observe' });
        throw new Error('ExternalIP placement needs the nodes, and the node cache has not synced yet (is the operator allowed to list and watch nodes?); retrying');
      }
      nodes = this.o.nodes.list().map(nodeView);
    }
    const budgets = this.o.budgets;
    const budget = budgets?.get(`${mesh.metadata.namespace}/${disruptionBudgetName(mesh)}`);
    const observed: Observed = {
      mesh,
      pods,
      reports,
      leaving,
      unreachable,
      drainingSince: new Map<string, number>(draining),
      templateHash: desiredTemplateHash(mesh, spec, this.o.defaultImage),
      meshKeys,
      removedAtMs: [...this.removalsOf(key)],
      failures: [...(this.failures.get(key) ?? [])],
      nowMs: this.now(),
    };
    if (secretProblem) observed.secretProblem = secretProblem;
    if (refusals.length > 0) observed.secretRefused = refusals.join('; ');
    if (nodes) observed.nodes = nodes;
    // Before the budget cache has synced, a budget that exists would look missing: not observed then.
    if (budgets?.hasSynced()) observed.disruptionBudget = budget ? { current: budget } : {};
    return observed;
  }
}
