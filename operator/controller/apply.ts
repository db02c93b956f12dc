// The applier: carries out a Decision with API and HTTP calls — the mesh key's Secrets, the
// PodDisruptionBudget, pod deletions and drains, then
// creations, the peer lists, the migrations, the events, and the status (only when it changed). It
// decides nothing; a failed call is reported back so the controller retries the pass with backoff.
import type { V1Pod, V1PodDisruptionBudget, V1Secret } from '@kubernetes/client-node';
import type { ReflectorMesh, ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import { httpStatusOf, type KubeApi } from '../kube/kube-api.js';
import type { ActionFailure } from './failures.js';
import type { OperatorMetrics } from '../metrics.js';
import type { Action, Decision } from './decide.js';
import type { EventRecorder } from './events.js';
import type { PodView } from './observed.js';
import { buildReflectorPod } from './pod-template.js';
import { statusWrite, STATUS_WRITE_INTERVAL_MS } from './status-writes.js';
import type { ReflectorAdmin, ReflectorTarget } from './reflector-admin.js';
import { describeError } from '../errors.js';

export interface PodCache {
  recordWrite(pod: V1Pod): void;
  recordDelete(key: string): void;
}

export interface MeshCache {
  recordWrite(mesh: ReflectorMesh): void;
}

export interface BudgetCache {
  recordWrite(budget: V1PodDisruptionBudget): void;
}

export interface SecretWriteCache {
  recordWrite(secret: V1Secret): void;
}

export interface ApplyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ApplyContext {
  mesh: ReflectorMesh;
  spec: ReflectorMeshSpec;
  pods: PodView[];
  token: string | undefined;
  /** The mesh key from its Secret, which admin requests are signed with; undefined when unreadable. */
  meshKey: Buffer | undefined;
  defaultImage: string;
  kube: KubeApi;
  admin: ReflectorAdmin;
  podCache: PodCache;
  meshCache: MeshCache;
  budgetCache?: BudgetCache;
  secretCache?: SecretWriteCache;
  recorder: EventRecorder;
  /** Pod name → when its drain started; the applier records drains it starts. */
  drainingSince: Map<string, number>;
  metrics?: OperatorMetrics;
  log: ApplyLogger;
  now?: () => number;
  /** When this mesh's status was last written (undefined: not by this process), and the least time between writes of fast numbers only. */
  statusWrites?: { lastWriteMs: number | undefined; intervalMs: number };
}

export interface ApplyResult {
  /** What failed, one line each; empty when everything worked. */
  errors: string[];
  /** The failed actions with the server's answer, for the next pass to report (failures.ts). */
  failures: ActionFailure[];
  statusWritten: boolean;
  /** Only fast-moving numbers changed, within the interval: written when the next pass comes after this. */
  statusDeferredMs?: number;
}


/** How to reach a pod's reflector on its admin API, once the pod has an address. */
function targetOf(pod: { hostIP?: string } | undefined, ctx: ApplyContext): ReflectorTarget | undefined {
  if (!pod?.hostIP) return undefined;
  const t: ReflectorTarget = { address: pod.hostIP, controlPort: ctx.spec.ports.control };
  if (ctx.token !== undefined) t.token = ctx.token;
  if (ctx.meshKey !== undefined) t.meshKey = ctx.meshKey;
  return t;
}

/** Runs one action: counts its result, and on failure adds it to `errors` and `failures` (the pass is retried). */
function actionRunner(ctx: ApplyContext, errors: string[], failures: ActionFailure[]) {
  return async (action: Action, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
      ctx.metrics?.actions.inc({ type: action.type, result: 'success' });
    } catch (err) {
      ctx.metrics?.actions.inc({ type: action.type, result: 'error' });
      const object = 'pod' in action ? action.pod : 'secret' in action ? action.secret.metadata?.name : 'budget' in action ? action.budget.metadata?.name : undefined;
      const what = object === undefined ? action.type : `${action.type} ${object}`;
      errors.push(`${what}: ${describeError(err)}`);
      const code = httpStatusOf(err);
      failures.push({ type: action.type, message: describeError(err), ...(code !== undefined ? { code } : {}) });
    }
  };
}

export async function apply(decision: Decision, ctx: ApplyContext): Promise<ApplyResult> {
  const errors: string[] = [];
  const failures: ActionFailure[] = [];
  const now = ctx.now ?? Date.now;
  const byName = new Map(ctx.pods.map((p) => [p.name, p]));
  const ns = ctx.mesh.metadata.namespace;
  /** The mesh as `namespace/name`, for the log (meshKey is the 32-byte key). */
  const meshRef = `${ns}/${ctx.mesh.metadata.name}`;
  const target = (name: string) => targetOf(byName.get(name), ctx);
  const run = actionRunner(ctx, errors, failures);
  const of = <K extends Action['type']>(type: K) => decision.actions.filter((a): a is Extract<Action, { type: K }> => a.type === type);

  // 0. The mesh key's Secrets, in order (a key-set step is written from the key Secret before it): the
  // first that fails stops the rest, and the pass is retried.
  for (const a of decision.actions) {
    if (a.type !== 'createSecret' && a.type !== 'writeSecret') continue;
    const before = errors.length;
    await run(a, async () => {
      const name = a.secret.metadata?.name ?? '';
      const written = a.type === 'writeSecret' ? await ctx.kube.writeSecret(ns, a.secret) : await ctx.kube.createSecret(ns, a.secret);
      if (!written) throw new Error(`Secret ${ns}/${name} appeared meanwhile; the next pass reads it`);
      // The next pass (a key-rotation step follows from this one) reads it before the watch delivers it.
      ctx.secretCache?.recordWrite(written);
      ctx.log.info({ mesh: meshRef, secret: name, reason: a.reason }, a.type === 'createSecret' ? 'created Secret' : 'wrote Secret');
    });
    if (errors.length > before) break;
  }

  // The PodDisruptionBudget: independent of the pods, so a refusal stops nothing else.
  for (const a of of('writeDisruptionBudget')) await run(a, () => writeBudget(a, ctx, meshRef));

  // 1. What goes: deletions and drains.
  await Promise.all([
    ...of('deletePod').map((a) =>
      run(a, async () => {
        const pod = byName.get(a.pod);
        ctx.log.info({ mesh: meshRef, pod: a.pod, reason: a.reason }, 'deleting reflector pod');
        const deleted = await ctx.kube.deletePod(ns, a.pod, pod?.uid ?? '');
        if (deleted?.metadata?.deletionTimestamp) ctx.podCache.recordWrite(deleted);
        else ctx.podCache.recordDelete(`${ns}/${a.pod}`);
        ctx.drainingSince.delete(a.pod);
      }),
    ),
    ...of('drain').map((a) =>
      run(a, async () => {
        const t = target(a.pod);
        if (!t) throw new Error('no address yet');
        ctx.log.info({ mesh: meshRef, pod: a.pod, reason: a.reason }, 'draining reflector');
        await ctx.admin.drain(t, a.exclude);
        ctx.drainingSince.set(a.pod, now());
      }),
    ),
  ]);

  // 2. What comes: new pods, one request at a time (bounded by the decision).
  for (const a of of('createPod')) {
    await run(a, async () => {
      const pod = buildReflectorPod(ctx.mesh, ctx.spec, {
        defaultImage: ctx.defaultImage,
        ...(decision.limits ? { limits: decision.limits } : {}),
        ...(a.node ? { node: a.node } : {}),
      });
      const created = await ctx.kube.createPod(ns, pod);
      ctx.podCache.recordWrite(created);
      ctx.log.info({ mesh: meshRef, pod: created.metadata?.name, reason: a.reason }, 'created reflector pod');
    });
  }

  // 3. Wiring and 4. migrations.
  await Promise.all(
    of('setPeers').map((a) =>
      run(a, async () => {
        const t = target(a.pod);
        if (!t) throw new Error('no address yet');
        await ctx.admin.setPeers(t, a.peers);
      }),
    ),
  );
  await Promise.all(
    of('migrate').map((a) =>
      run(a, async () => {
        const t = target(a.pod);
        if (!t) throw new Error('no address yet');
        await ctx.admin.migrate(t, a.clientId, a.to);
      }),
    ),
  );

  // 5. Events, then 6. the status, last, so it describes what was done.
  await recordEvents(decision, ctx, meshRef);
  if (errors.length > 0) {
    ctx.log.warn({ mesh: meshRef, errors }, 'some actions failed; retrying with backoff');
  }
  const status = await writeStatus(decision, ctx, errors);
  return { errors, failures, ...status };
}

async function writeBudget(a: Extract<Action, { type: 'writeDisruptionBudget' }>, ctx: ApplyContext, meshRef: string): Promise<void> {
  const written = await ctx.kube.writeDisruptionBudget(ctx.mesh.metadata.namespace, a.budget);
  ctx.budgetCache?.recordWrite(written);
  ctx.log.info({ mesh: meshRef, budget: a.budget.metadata?.name, minAvailable: a.budget.spec?.minAvailable, reason: a.reason }, 'wrote PodDisruptionBudget');
}

/** Step 5: the decision's events; one that cannot be recorded is counted and logged, not retried. */
async function recordEvents(decision: Decision, ctx: ApplyContext, meshRef: string): Promise<void> {
  for (const event of decision.events) {
    try {
      await ctx.recorder.record(ctx.mesh, event);
    } catch (err) {
      ctx.metrics?.errors.inc({ stage: 'event' });
      ctx.log.warn({ mesh: meshRef, reason: event.reason, err: describeError(err) }, 'could not record event');
    }
  }
}

/** Step 6: the status, when it changed (fast numbers alone: at most once per interval); a failure joins `errors` so the pass is retried. */
async function writeStatus(decision: Decision, ctx: ApplyContext, errors: string[]): Promise<Pick<ApplyResult, 'statusWritten' | 'statusDeferredMs'>> {
  const now = (ctx.now ?? Date.now)();
  const limits = ctx.statusWrites ?? { lastWriteMs: undefined, intervalMs: STATUS_WRITE_INTERVAL_MS };
  const should = statusWrite(decision.status, ctx.mesh.status, limits.lastWriteMs, now, limits.intervalMs);
  if (!should.write) {
    ctx.metrics?.statusWrites.inc({ outcome: should.outcome });
    return should.outcome === 'deferred' ? { statusWritten: false, statusDeferredMs: should.retryInMs } : { statusWritten: false };
  }
  try {
    const written = await ctx.kube.patchMeshStatus(ctx.mesh.metadata.namespace, ctx.mesh.metadata.name, decision.status, ctx.mesh.status);
    ctx.meshCache.recordWrite(written);
    ctx.metrics?.statusWrites.inc({ outcome: 'written' });
    return { statusWritten: true };
  } catch (err) {
    ctx.metrics?.errors.inc({ stage: 'status' });
    errors.push(`status: ${describeError(err)}`);
    return { statusWritten: false };
  }
}
