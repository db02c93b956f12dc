// The simulated kubelet of every simulated node: runs each container of a pod bound to one of them as a
// real local process (on the host network: the pod's address is the node's), resolves its environment,
// probes it, reports pod status, restarts containers per restartPolicy, and stops them (SIGTERM, then
// SIGKILL after the grace period) when the pod is deleted. Only the container runtime is simulated.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1ConfigMap,
  type V1Container,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import { describeApiError, isNotFound, statusCode } from './api-errors.js';
import { ContainerConfigError, containerArgv, resolveEnv, type EnvSources } from './container-env.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ManagedProcess, type Exit } from './processes.js';
import { Prober } from './probes.js';
import { SecretVolumes } from './secret-volumes.js';

export interface KubeletOptions {
  kc: KubeConfig;
  /** Where each container's output goes: <logDir>/<namespace>_<pod>/<container>.log. */
  logDir: string;
  /** The working directory of container processes. */
  cwd: string;
  /** The image's entrypoint, used when a container has no command (the project image's is `rmesh`). */
  entrypoint: readonly string[];
  /** Maps a command's first word to the local argv that runs it, e.g. rmesh → node dist/cli/rmesh.js. */
  commands: Readonly<Record<string, readonly string[]>>;
  /** Environment every container starts from (the host's PATH; nothing else leaks in). */
  baseEnv: Readonly<Record<string, string>>;
  /** Delay before the second restart of a crashing container, doubled each time up to maxRestartBackoffMs. */
  restartBackoffMs: number;
  maxRestartBackoffMs: number;
  /** Caps probe periods (the pod's own periodSeconds otherwise), to keep tests quick. */
  maxProbePeriodMs?: number;
  /** The node's address, or undefined when the node is not simulated or is down. */
  nodeAddress(nodeName: string): string | undefined;
}

interface Termination {
  exitCode: number;
  signal?: number;
  reason: string;
  startedAt: string;
  finishedAt: string;
}

interface ContainerRun {
  spec: V1Container;
  process: ManagedProcess | undefined;
  startedAt: string | undefined;
  ready: boolean;
  restartCount: number;
  waiting: { reason: string; message?: string } | undefined;
  lastTermination: Termination | undefined;
  /** Set when it exited and will not be restarted. */
  final: Termination | undefined;
  backoffMs: number;
  timer: NodeJS.Timeout | undefined;
  probers: Prober[];
}

interface PodRun {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string;
  address: string;
  pod: V1Pod;
  containers: ContainerRun[];
  startTime: string;
  terminating: Promise<void> | undefined;
  conditionTimes: Map<string, { status: string; time: string }>;
  reported: string;
  reporting: boolean;
  reportAgain: boolean;
}

const now = (): string => new Date().toISOString();

export class Kubelet {
  private readonly core: CoreV1Api;
  private readonly runs = new Map<string, PodRun>();
  private readonly sources: EnvSources;
  private readonly volumes: SecretVolumes;

  constructor(private readonly options: KubeletOptions) {
    this.core = options.kc.makeApiClient(CoreV1Api);
    this.sources = {
      secret: (namespace, name) => this.core.readNamespacedSecret({ namespace, name }).catch((err: unknown) => undefinedIfNotFound<V1Secret>(err)),
      configMap: (namespace, name) => this.core.readNamespacedConfigMap({ namespace, name }).catch((err: unknown) => undefinedIfNotFound<V1ConfigMap>(err)),
    };
    this.volumes = new SecretVolumes((namespace, name) => this.sources.secret(namespace, name));
    mkdirSync(options.logDir, { recursive: true });
  }

  /** Brings the processes in line with the pods bound to simulated nodes (`pods`: every pod the simulator manages). */
  sync(pods: readonly V1Pod[]): void {
    const seen = new Set<string>();
    for (const pod of pods) {
      const uid = pod.metadata?.uid;
      const nodeName = pod.spec?.nodeName;
      if (!uid || !nodeName) continue;
      const address = this.options.nodeAddress(nodeName);
      if (address === undefined) continue;
      seen.add(uid);
      let run = this.runs.get(uid);
      if (!run) {
        if (pod.metadata?.deletionTimestamp) {
          // Never started here (e.g. deleted before we saw it bound): just finish the deletion.
          void this.finishDeletion(pod);
          continue;
        }
        run = this.admit(pod, nodeName, address);
      }
      run.pod = pod;
      if (pod.metadata?.deletionTimestamp) void this.terminate(run, true);
      else void this.volumes.refresh(pod, this.podDir(run)).catch(() => undefined);
    }
    // Pods gone from the API server without a graceful deletion (or no longer on a live node).
    for (const run of this.runs.values()) {
      if (!seen.has(run.uid)) void this.terminate(run, false);
    }
  }

  /** Sends `signal` to a container's process (failure injection); resolves when it has exited. */
  async kill(namespace: string, name: string, signal: NodeJS.Signals = 'SIGKILL', container?: string): Promise<Exit> {
    const run = [...this.runs.values()].find((r) => r.namespace === namespace && r.name === name);
    if (!run) throw new Error(`no running pod ${namespace}/${name} on a simulated node`);
    const c = container ? run.containers.find((x) => x.spec.name === container) : run.containers[0];
    if (!c?.process?.running) throw new Error(`pod ${namespace}/${name} has no running process${container ? ` in ${container}` : ''}`);
    const p = c.process;
    p.signal(signal);
    return p.exited;
  }

  /** The process id of a pod's container, when it runs. */
  pid(namespace: string, name: string, container?: string): number | undefined {
    const run = [...this.runs.values()].find((r) => r.namespace === namespace && r.name === name);
    const c = container ? run?.containers.find((x) => x.spec.name === container) : run?.containers[0];
    return c?.process?.running ? c.process.pid : undefined;
  }

  /** Everything a pod's container has printed, across restarts. */
  logs(namespace: string, name: string, container?: string): string {
    const run = [...this.runs.values()].find((r) => r.namespace === namespace && r.name === name);
    try {
      // A deleted pod's logs stay on disk: then its first container's file, by name.
      const containerName =
        container ??
        run?.containers[0]?.spec.name ??
        readdirSync(join(this.options.logDir, `${namespace}_${name}`))
          .filter((f) => f.endsWith('.log'))
          .sort()[0]
          ?.slice(0, -'.log'.length);
      return containerName ? readFileSync(this.logFile(namespace, name, containerName), 'utf8') : '';
    } catch {
      return '';
    }
  }

  /** Kills every process of a node at once (a node failure) and forgets its pods. */
  async failNode(nodeName: string): Promise<void> {
    const stops: Promise<unknown>[] = [];
    for (const run of [...this.runs.values()].filter((r) => r.nodeName === nodeName)) {
      this.runs.delete(run.uid);
      for (const c of run.containers) {
        this.quiet(c);
        if (c.process) stops.push(c.process.stop(0));
      }
    }
    await Promise.all(stops);
  }

  /** Stops every process (SIGTERM, then SIGKILL after `graceMs`), without touching the API objects. */
  async stop(graceMs = 5_000): Promise<void> {
    const stops: Promise<unknown>[] = [];
    for (const run of this.runs.values()) {
      for (const c of run.containers) {
        this.quiet(c);
        if (c.process) stops.push(c.process.stop(graceMs));
      }
    }
    this.runs.clear();
    await Promise.all(stops);
  }

  private logFile(namespace: string, name: string, container: string): string {
    return join(this.options.logDir, `${namespace}_${name}`, `${container}.log`);
  }

  private admit(pod: V1Pod, nodeName: string, address: string): PodRun {
    const run: PodRun = {
      uid: pod.metadata?.uid ?? '',
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      nodeName,
      address,
      pod,
      containers: (pod.spec?.containers ?? []).map((spec) => ({
        spec,
        process: undefined,
        startedAt: undefined,
        ready: false,
        restartCount: 0,
        waiting: { reason: 'ContainerCreating' },
        lastTermination: undefined,
        final: undefined,
        backoffMs: 0,
        timer: undefined,
        probers: [],
      })),
      startTime: now(),
      terminating: undefined,
      conditionTimes: new Map(),
      reported: '',
      reporting: false,
      reportAgain: false,
    };
    this.runs.set(run.uid, run);
    mkdirSync(join(this.options.logDir, `${run.namespace}_${run.name}`), { recursive: true });
    this.report(run);
    for (const c of run.containers) void this.startContainer(run, c);
    return run;
  }

  /** The pod's own directory (its logs, its Secret volumes). */
  private podDir(run: PodRun): string {
    return join(this.options.logDir, `${run.namespace}_${run.name}`);
  }

  private async startContainer(run: PodRun, c: ContainerRun): Promise<void> {
    if (run.terminating || !this.runs.has(run.uid)) return;
    let argv: string[];
    let env: Record<string, string>;
    try {
      const mounts = await this.volumes.mount(run.pod, c.spec, this.podDir(run));
      const vars = SecretVolumes.remap(await resolveEnv(run.pod, c.spec, run.address, this.sources), mounts);
      argv = containerArgv(c.spec, vars, this.options.entrypoint, this.options.commands);
      env = { ...this.options.baseEnv, HOSTNAME: run.nodeName, ...(await this.serviceAccountEnv(run)), ...Object.fromEntries(vars) };
    } catch (err) {
      if (!(err instanceof ContainerConfigError) && statusCode(err) === undefined) throw err;
      c.waiting = { reason: 'CreateContainerConfigError', message: err instanceof Error ? err.message : String(err) };
      this.report(run);
      c.timer = setTimeout(() => void this.startContainer(run, c), 2_000);
      return;
    }
    if (run.terminating || !this.runs.has(run.uid)) return;
    const logFile = this.logFile(run.namespace, run.name, c.spec.name);
    writeFileSync(logFile, `[kubelet-simulator] ${now()} starting: ${argv.join(' ')}\n`, { flag: 'a' });
    const [command = '', ...args] = argv;
    const process = new ManagedProcess({ name: `${run.namespace}/${run.name}/${c.spec.name}`, command, args, env, cwd: this.options.cwd, logFile });
    c.process = process;
    c.startedAt = now();
    c.waiting = undefined;
    c.ready = !c.spec.readinessProbe;
    if (c.spec.readinessProbe) {
      c.probers.push(
        new Prober(c.spec.readinessProbe, c.spec, run.address, (ok) => {
          c.ready = ok;
          this.report(run);
        }, this.options.maxProbePeriodMs),
      );
    }
    if (c.spec.livenessProbe) {
      c.probers.push(
        new Prober(c.spec.livenessProbe, c.spec, run.address, (ok) => {
          if (!ok) {
            writeFileSync(logFile, `[kubelet-simulator] ${now()} liveness probe failed: restarting\n`, { flag: 'a' });
            void process.stop(this.graceMs(run));
          }
        }, this.options.maxProbePeriodMs),
      );
    }
    for (const p of c.probers) p.start();
    this.report(run);
    void process.exited.then((exit) => this.onExit(run, c, process, exit));
  }

  private onExit(run: PodRun, c: ContainerRun, process: ManagedProcess, exit: Exit): void {
    if (c.process !== process) return;
    this.quiet(c);
    c.ready = false;
    const signal = exit.signal ? constants.signals[exit.signal] : undefined;
    const exitCode = exit.code ?? 128 + (signal ?? 0);
    const termination: Termination = {
      exitCode,
      ...(signal !== undefined ? { signal } : {}),
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: c.startedAt ?? now(),
      finishedAt: now(),
    };
    writeFileSync(process.logFile, `[kubelet-simulator] ${now()} exited: ${exit.signal ?? `code ${exit.code}`}\n`, { flag: 'a' });
    c.lastTermination = termination;
    if (run.terminating || !this.runs.has(run.uid)) return;
    const policy = run.pod.spec?.restartPolicy ?? 'Always';
    const restart = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      c.final = termination;
      this.report(run);
      return;
    }
    // A container that ran a while starts over with no back-off, as the kubelet's resets after a while.
    const ranMs = Date.parse(termination.finishedAt) - Date.parse(termination.startedAt);
    if (ranMs > 10 * this.options.maxRestartBackoffMs) c.backoffMs = 0;
    const delay = c.backoffMs;
    c.backoffMs = Math.min(Math.max(this.options.restartBackoffMs, c.backoffMs * 2), this.options.maxRestartBackoffMs);
    c.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${run.name}` };
    this.report(run);
    c.timer = setTimeout(() => {
      c.restartCount++;
      void this.startContainer(run, c);
    }, delay);
  }

  private quiet(c: ContainerRun): void {
    clearTimeout(c.timer);
    for (const p of c.probers) p.stop();
    c.probers = [];
  }

  private graceMs(run: PodRun): number {
    const seconds = run.pod.metadata?.deletionGracePeriodSeconds ?? run.pod.spec?.terminationGracePeriodSeconds ?? 30;
    return seconds * 1000;
  }

  /** Stops the pod's processes; with `deleteObject`, then removes the pod (grace 0), as the kubelet does. */
  private terminate(run: PodRun, deleteObject: boolean): Promise<void> {
    run.terminating ??= (async () => {
      const grace = this.graceMs(run);
      await Promise.all(
        run.containers.map(async (c) => {
          this.quiet(c);
          c.waiting = undefined;
          if (c.process) await c.process.stop(grace);
        }),
      );
      this.runs.delete(run.uid);
      if (deleteObject) await this.finishDeletion(run.pod);
    })();
    return run.terminating;
  }

  private async finishDeletion(pod: V1Pod): Promise<void> {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    try {
      await this.core.deleteNamespacedPod({
        name,
        namespace,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 404 && code !== 409) console.warn(`[kubelet-simulator] deleting pod ${namespace}/${name}: ${describeApiError(err)}`);
    }
  }

  /** A kubeconfig with a token of the pod's service account (the simulator's stand-in for the token mount). */
  private async serviceAccountEnv(run: PodRun): Promise<Record<string, string>> {
    if (run.pod.spec?.automountServiceAccountToken === false) return {};
    const serviceAccount = run.pod.spec?.serviceAccountName ?? 'default';
    const cluster = this.options.kc.getCurrentCluster();
    if (!cluster) return {};
    const token = await this.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: run.namespace,
      body: {
        spec: {
          audiences: [],
          expirationSeconds: 24 * 3600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: run.name, uid: run.uid },
        },
      },
    });
    const path = join(this.options.logDir, `${run.namespace}_${run.name}`, 'kubeconfig');
    const ca = cluster.caData ? { data: cluster.caData } : cluster.caFile ? { file: cluster.caFile } : undefined;
    if (!ca) return {};
    writeKubeconfig(path, { server: cluster.server, ca, user: { token: token.status?.token ?? '' }, namespace: run.namespace });
    return {
      KUBECONFIG: path,
      POD_NAMESPACE: run.namespace,
    };
  }

  /** Patches the pod's status when it changed; one patch at a time per pod, latest state wins. */
  private report(run: PodRun): void {
    if (run.reporting) {
      run.reportAgain = true;
      return;
    }
    run.reporting = true;
    void (async () => {
      try {
        do {
          run.reportAgain = false;
          if (run.terminating || !this.runs.has(run.uid)) return;
          const status = this.status(run);
          const text = JSON.stringify(status);
          if (text === run.reported) continue;
          try {
            await this.core.patchNamespacedPodStatus(
              { name: run.name, namespace: run.namespace, body: { status } },
              setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
            );
            run.reported = text;
          } catch (err) {
            if (isNotFound(err)) return;
            console.warn(`[kubelet-simulator] status of ${run.namespace}/${run.name}: ${describeApiError(err)}`);
            run.reportAgain = true;
            await new Promise((r) => setTimeout(r, 1000));
          }
        } while (run.reportAgain);
      } finally {
        run.reporting = false;
      }
    })();
  }

  private condition(run: PodRun, type: string, ok: boolean, reason?: string): Record<string, string> {
    const status = ok ? 'True' : 'False';
    const previous = run.conditionTimes.get(type);
    const time = previous && previous.status === status ? previous.time : now();
    run.conditionTimes.set(type, { status, time });
    return { type, status, lastTransitionTime: time, ...(reason ? { reason } : {}) };
  }

  private status(run: PodRun): Record<string, unknown> {
    const cs = run.containers;
    const allReady = cs.every((c) => c.ready && c.process?.running);
    const finished = cs.every((c) => c.final);
    const phase = finished ? (cs.every((c) => c.final?.exitCode === 0) ? 'Succeeded' : 'Failed') : cs.some((c) => c.startedAt) ? 'Running' : 'Pending';
    const notReady = allReady ? undefined : 'ContainersNotReady';
    return {
      phase,
      hostIP: run.address,
      hostIPs: [{ ip: run.address }],
      podIP: run.address,
      podIPs: [{ ip: run.address }],
      startTime: run.startTime,
      conditions: [
        this.condition(run, 'PodReadyToStartContainers', true),
        this.condition(run, 'Initialized', true),
        this.condition(run, 'Ready', allReady, notReady),
        this.condition(run, 'ContainersReady', allReady, notReady),
        this.condition(run, 'PodScheduled', true),
      ],
      containerStatuses: cs.map((c) => ({
        name: c.spec.name,
        image: c.spec.image ?? '',
        imageID: '',
        containerID: c.process?.pid ? `rmesh-e2e://${c.process.pid}` : undefined,
        ready: c.ready && (c.process?.running ?? false),
        started: c.process?.running ?? false,
        restartCount: c.restartCount,
        state: c.final
          ? { terminated: c.final }
          : c.waiting
            ? { waiting: c.waiting }
            : c.process?.running
              ? { running: { startedAt: c.startedAt } }
              : { waiting: { reason: 'ContainerCreating' } },
        ...(c.lastTermination && !c.final ? { lastState: { terminated: c.lastTermination } } : {}),
      })),
    };
  }
}

function undefinedIfNotFound<T>(err: unknown): T | undefined {
  if (isNotFound(err)) return undefined;
  throw err;
}
