// The operator suite: the real controller (operator/controller) against the Kubernetes API played in
// memory (the tests' fake, test/support/fake-kube.ts and fake-kubelet.ts: the e2e harness's
// kube-apiserver and etcd are built from source, which a bench machine may not have done). Two measurements:
// - apply to Ready: a ReflectorMesh of 3 replicas is applied; the kubelet starts real `rmesh reflector`
//   processes; time until the mesh's Ready condition is True (and the steps on the way).
// - reconcile cost: 100 meshes of 3 replicas each, pods Ready at once and fake reflectors answering the
//   admin API over real HTTP (fake-reflectors.ts, another process); CPU time of the operator's process
//   (process.cpuUsage) around each reconcile, while they converge and in the steady state.
// A pass (kubelet, caches refreshed as a watch would, reconcile) every 100 ms stands in for the
// watch-driven work queue, so apply-to-Ready includes up to 100 ms of waiting per step.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import type { ReflectorMesh } from '../../operator/api/v1alpha1/index.js';
import { MeshController } from '../../operator/controller/controller.js';
import { EventRecorder } from '../../operator/controller/events.js';
import { httpReflectorAdmin } from '../../operator/controller/reflector-admin.js';
import { Informer, type ListWatchSource } from '../../operator/informers/informer.js';
import { sleep } from '../../tools/demo/reflectors.js';
import { fixed, summarize, type Summary } from '../lib/stats.js';
import type { Suite, SuiteContext } from '../lib/suite.js';
import { FakeKube } from '../../test/support/fake-kube.js';
import { FakeKubelet, type KubeletMode } from '../../test/support/fake-kubelet.js';

const PASS_MS = 100;
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function staticSource<T>(items: () => T[]): ListWatchSource<T> {
  return { name: 'memory', list: async () => Promise.resolve({ items: items(), resourceVersion: '1' }), watch: async () => Promise.resolve({ abort() {} }) };
}

function meshOf(name: string, ports: { data: number; control: number }, replicas: number): ReflectorMesh {
  return {
    apiVersion: 'rmesh.io/v1alpha1',
    kind: 'ReflectorMesh',
    metadata: { name, namespace: 'bench', uid: `uid-${name}`, generation: 1, resourceVersion: '1' },
    spec: { replicas, stream: { rtp: false }, ports, timeouts: { keepaliveIntervalMs: 200, peerTimeoutMs: 1500 } } as ReflectorMesh['spec'],
  };
}

const isReady = (m: ReflectorMesh): boolean => m.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

/** The controller with informers over the in-memory API, refreshed before each pass. */
class Harness {
  readonly meshes: Informer<ReflectorMesh>;
  readonly pods: Informer<V1Pod>;
  readonly controller: MeshController;

  readonly kube = new FakeKube();
  readonly kubelet: FakeKubelet;

  /** `nodes`: a loopback address per simulated node; `mode`: real reflector processes, or pods Ready at once. */
  constructor(nodes: string[], mode: KubeletMode) {
    const kube = this.kube;
    this.kubelet = new FakeKubelet(kube, nodes, mode);
    this.meshes = new Informer(staticSource(() => [...kube.meshes.values()]), { resyncMs: 0, silenceMs: 60_000 });
    this.pods = new Informer(staticSource(() => [...kube.pods.values()]), { resyncMs: 0, silenceMs: 60_000 });
    this.controller = new MeshController({
      meshes: this.meshes,
      pods: this.pods,
      kube,
      admin: httpReflectorAdmin({ timeoutMs: 2000, migrateTimeoutMs: 10_000 }),
      recorder: new EventRecorder(kube, 'bench'),
      log: quiet,
      defaultImage: 'rmesh:bench',
      workers: 1,
      statusRefreshMs: 1000,
    });
  }

  /** What a watch would have delivered by now. */
  async refresh(): Promise<void> {
    await this.kubelet.sync();
    for (const p of this.kube.pods.values()) this.pods.recordWrite(structuredClone(p));
    for (const known of this.pods.list()) if (!this.kube.pods.has(known.metadata!.name!)) this.pods.recordDelete(`${known.metadata!.namespace}/${known.metadata!.name}`);
    for (const m of this.kube.meshes.values()) this.meshes.recordWrite(structuredClone(m));
  }

  /** Reconciles one mesh; resolves to the CPU µs it took (user + system) and whether it threw. */
  async reconcile(key: string): Promise<{ cpuUs: number; wallMs: number; error?: string }> {
    const cpu = process.cpuUsage();
    const t = performance.now();
    let error: string | undefined;
    try {
      await this.controller.reconcile(key);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const used = process.cpuUsage(cpu);
    return { cpuUs: used.user + used.system, wallMs: performance.now() - t, ...(error ? { error } : {}) };
  }
}

export interface ApplyRun {
  podsCreatedMs: number | null;
  podsRunningMs: number | null;
  readyMs: number | null;
  passes: number;
  lastError: string;
}

/** Apply one mesh of `replicas`, pass until Ready (or the timeout). */
async function applyToReady(replicas: number, run: number, log: SuiteContext['log']): Promise<ApplyRun> {
  const nodes = Array.from({ length: replicas }, (_, i) => `127.0.8.${51 + i}`);
  const h = new Harness(nodes, 'process');
  const { kube } = h;
  const key = 'bench/apply';
  const out: ApplyRun = { podsCreatedMs: null, podsRunningMs: null, readyMs: null, passes: 0, lastError: '' };
  try {
    const t0 = performance.now();
    kube.addMesh(meshOf('apply', { data: 48600 + run * 2, control: 48620 + run * 2 }, replicas));
    while (performance.now() - t0 < 30_000) {
      await h.refresh();
      const r = await h.reconcile(key);
      out.passes++;
      out.lastError = r.error ?? '';
      const now = performance.now() - t0;
      const pods = [...kube.pods.values()];
      if (out.podsCreatedMs === null && pods.length >= replicas) out.podsCreatedMs = now;
      if (out.podsRunningMs === null && pods.filter((p) => p.status?.phase === 'Running').length >= replicas) out.podsRunningMs = now;
      if (isReady(kube.meshes.get(key)!)) {
        out.readyMs = now;
        break;
      }
      await sleep(PASS_MS);
    }
    log(`run ${run + 1}: pods created ${fixed(out.podsCreatedMs, 0)} ms, running ${fixed(out.podsRunningMs, 0)} ms, Ready ${fixed(out.readyMs, 0)} ms after apply (${out.passes} passes)${out.readyMs === null ? `; last error: ${out.lastError}` : ''}`);
    return out;
  } finally {
    await h.kubelet.stop();
  }
}

/** Starts the fake reflectors' process; resolves to a function that stops it. */
async function startFakes(targets: string[]): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'fake-reflectors.js'), targets.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => (line === 'ready' ? resolve() : reject(new Error(`fake reflectors said ${line}`))));
    child.once('exit', (code) => reject(new Error(`fake reflectors exited with ${code}`)));
  });
  return () =>
    new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.stdin.end();
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
}

export interface CostResult {
  meshes: number;
  replicas: number;
  converge: { passes: number; reconciles: number; readyMeshes: number; wallMs: number; cpuUsPerReconcile: Summary; cpuMsTotal: number };
  steady: { rounds: number; reconciles: number; errors: number; cpuUsPerReconcile: Summary; wallMsPerReconcile: Summary; cpuMsPerRound: number };
}

async function reconcileCost(meshCount: number, replicas: number, rounds: number, log: SuiteContext['log']): Promise<CostResult> {
  const nodes = Array.from({ length: replicas }, (_, i) => `127.0.8.${61 + i}`);
  const controlPort = (i: number): number => 48700 + i;
  const stopFakes = await startFakes(nodes.flatMap((n) => Array.from({ length: meshCount }, (_, i) => `${n}:${controlPort(i)}`)));
  const h = new Harness(nodes, 'ready');
  const { kube } = h;
  try {
    const keys = Array.from({ length: meshCount }, (_, i) => `bench/mesh-${String(i).padStart(3, '0')}`);
    keys.forEach((k, i) => kube.addMesh(meshOf(k.split('/')[1]!, { data: 48900 + (i % 90), control: controlPort(i) }, replicas)));
    // Converge: passes over every mesh until all are Ready.
    const convergeCpu: number[] = [];
    const t0 = performance.now();
    let passes = 0;
    let ready = 0;
    while (ready < meshCount && passes < 40) {
      await h.refresh();
      for (const k of keys) if (!isReady(kube.meshes.get(k)!)) convergeCpu.push((await h.reconcile(k)).cpuUs);
      passes++;
      ready = keys.filter((k) => isReady(kube.meshes.get(k)!)).length;
      log(`converging: pass ${passes}, ${ready} of ${meshCount} meshes Ready`);
    }
    const converge = {
      passes,
      reconciles: convergeCpu.length,
      readyMeshes: ready,
      wallMs: performance.now() - t0,
      cpuUsPerReconcile: summarize(convergeCpu),
      cpuMsTotal: convergeCpu.reduce((a, b) => a + b, 0) / 1000,
    };
    // Steady state: every mesh reconciled once per round (status refresh: GET /v1/status of each pod).
    const cpu: number[] = [];
    const wall: number[] = [];
    let errors = 0;
    await h.refresh();
    for (let round = 0; round < rounds; round++) {
      for (const k of keys) {
        const r = await h.reconcile(k);
        cpu.push(r.cpuUs);
        wall.push(r.wallMs);
        if (r.error) errors++;
      }
    }
    const steady = {
      rounds,
      reconciles: cpu.length,
      errors,
      cpuUsPerReconcile: summarize(cpu),
      wallMsPerReconcile: summarize(wall),
      cpuMsPerRound: cpu.reduce((a, b) => a + b, 0) / 1000 / rounds,
    };
    log(`steady state: ${cpu.length} reconciles, CPU per reconcile p50 ${fixed(steady.cpuUsPerReconcile.p50, 0)} µs, mean ${fixed(steady.cpuUsPerReconcile.mean, 0)} µs; ${fixed(steady.cpuMsPerRound)} ms CPU per round of ${meshCount} meshes`);
    return { meshes: meshCount, replicas, converge, steady };
  } finally {
    await stopFakes();
  }
}

export function operatorMarkdown(apply: ApplyRun[], replicas: number, cost: CostResult, quick: boolean): string {
  const ready = summarize(apply.flatMap((r) => (r.readyMs === null ? [] : [r.readyMs])));
  const running = summarize(apply.flatMap((r) => (r.podsRunningMs === null ? [] : [r.podsRunningMs])));
  const c = cost.steady.cpuUsPerReconcile;
  const v = cost.converge.cpuUsPerReconcile;
  const lines = [
    `## Operator${quick ? ' (quick mode)' : ''}`,
    '',
    'The real controller against the Kubernetes API and kubelet played in memory (test/support/fake-kube.ts; no kube-apiserver was built on this machine). A pass every 100 ms stands in for the watch-driven work queue.',
    '',
    `Apply to Ready, a mesh of ${replicas} replicas, real \`rmesh reflector\` processes (${apply.length} run(s); ${apply.filter((r) => r.readyMs === null).length} did not become Ready within 30 s):`,
    '',
    '| step | p50 ms | max ms |',
    '|---|---:|---:|',
    `| pods Running (reflectors serving /healthz) | ${fixed(running.p50, 0)} | ${fixed(running.max, 0)} |`,
    `| mesh Ready (full mesh wired, status written) | ${fixed(ready.p50, 0)} | ${fixed(ready.max, 0)} |`,
    '',
    `Reconcile cost, ${cost.meshes} meshes of ${cost.replicas} replicas (fake reflectors answering the admin API over HTTP from another process); CPU of the operator's process per reconcile (process.cpuUsage, user + system):`,
    '',
    '| phase | reconciles | CPU µs p50 | p90 | max | mean | total |',
    '|---|---:|---:|---:|---:|---:|---:|',
    `| converging (create pods, peer, write status) | ${cost.converge.reconciles} | ${fixed(v.p50, 0)} | ${fixed(v.p90, 0)} | ${fixed(v.max, 0)} | ${fixed(v.mean, 0)} | ${fixed(cost.converge.cpuMsTotal, 0)} ms |`,
    `| steady state (status refresh) | ${cost.steady.reconciles} | ${fixed(c.p50, 0)} | ${fixed(c.p90, 0)} | ${fixed(c.max, 0)} | ${fixed(c.mean, 0)} | ${fixed(cost.steady.cpuMsPerRound, 0)} ms per round of ${cost.meshes} |`,
    '',
    `All ${cost.meshes} meshes Ready after ${cost.converge.passes} passes (${fixed(cost.converge.wallMs / 1000)} s); steady-state wall time per reconcile p50 ${fixed(cost.steady.wallMsPerReconcile.p50)} ms (three GET /v1/status); ${cost.steady.errors} errors.`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}

export const operatorSuite: Suite = {
  name: 'operator',
  description: 'time from apply to Ready of a mesh; reconcile CPU cost per mesh with 100 meshes',
  async run({ quick, log }) {
    const replicas = 3;
    const apply: ApplyRun[] = [];
    for (let run = 0; run < (quick ? 1 : 3); run++) apply.push(await applyToReady(replicas, run, log));
    const cost = await reconcileCost(100, replicas, quick ? 3 : 10, log);
    return { json: { kubeApi: 'in-memory (test/support/fake-kube.ts)', passIntervalMs: PASS_MS, replicas, apply, cost }, markdown: operatorMarkdown(apply, replicas, cost, quick) };
  },
};
