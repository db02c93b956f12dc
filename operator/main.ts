// Runs the operator: health and metrics server, leader election, informers, the mesh controller, and a
// clean shutdown on SIGTERM (release the Lease, stop watching; reflector pods keep serving: no finalizer).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { delimiter } from 'node:path';
import { KubeConfig, type V1Node, type V1Pod, type V1PodDisruptionBudget, type V1Secret } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import type { ReflectorMesh } from './api/v1alpha1/index.js';
import { MeshController } from './controller/controller.js';
import { EventRecorder } from './controller/events.js';
import { ALL_REFLECTORS_SELECTOR } from './controller/labels.js';
import { httpReflectorAdmin } from './controller/reflector-admin.js';
import { Informer, type ListWatchSource } from './informers/informer.js';
import { SecretCache } from './informers/secret-cache.js';
import { budgetSource, meshSource, nodeSource, podSource, secretSource } from './informers/sources.js';
import { startExternalMetrics } from './external-metrics/start.js';
import { clientNodeKubeApi } from './kube/kube-api.js';
import { meterKubeRequests } from './kube/rest-metrics.js';
import { clientNodeLeaseApi, LeaderElector } from './leader.js';
import { OperatorMetrics } from './metrics.js';
import { startServer } from './server.js';

export interface OperatorConfig {
  /** Path of a kubeconfig; undefined: in-cluster, then $KUBECONFIG / ~/.kube/config. */
  kubeconfig?: string;
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  host: string;
  port: number;
  leaderElect: boolean;
  leaseName: string;
  leaseNamespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  resyncMs: number;
  watchSilenceMs: number;
  statusRefreshMs: number;
  /** Least time between status writes of a mesh when only fast-moving numbers changed. */
  statusWriteIntervalMs: number;
  reflectorTimeoutMs: number;
  migrateTimeoutMs: number;
  workers: number;
  reflectorImage: string;
  logLevel: string;
  /** The external metrics API (external.metrics.k8s.io) on its own HTTPS port; undefined: off. */
  externalMetrics?: {
    port: number;
    tlsCertFile?: string | undefined;
    tlsKeyFile?: string | undefined;
    clientCaFile?: string | undefined;
    allowedNames?: string[] | undefined;
  };
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path?.includes(delimiter)) {
    // $KUBECONFIG may list several files, which client-node merges itself.
    kc.loadFromDefault();
  } else if (path) {
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new Error(`cannot read the kubeconfig ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: run in a pod, set $KUBECONFIG, or pass --kubeconfig');
  }
  return kc;
}

/**
 * Keeps a source's objects to the operator's namespaces. One namespace or all: the source itself (a
 * single informer each). Several: watch all and filter (the RBAC manifest grants cluster-wide reads;
 * a per-namespace install binds the ClusterRole per namespace).
 */
function namespaceFilter(namespaces: string[]) {
  return <T extends { metadata?: { namespace?: string } }>(source: ListWatchSource<T>): ListWatchSource<T> => {
    if (namespaces.length <= 1) return source;
    const allowed = new Set(namespaces);
    const keep = (o: T) => allowed.has(o.metadata?.namespace ?? '');
    return {
      name: source.name,
      list: async () => {
        const r = await source.list();
        return { items: r.items.filter(keep), resourceVersion: r.resourceVersion };
      },
      watch: (rv, onEvent, onDone) =>
        source.watch(rv, (e) => {
          if (e.type === 'BOOKMARK' || e.type === 'ERROR' || keep(e.object as T)) onEvent(e);
        }, onDone),
    };
  };
}

/** The Lease election of --leader-elect. */
function leaderElector(config: OperatorConfig, kc: KubeConfig, log: Logger): LeaderElector {
  return new LeaderElector(clientNodeLeaseApi(kc), {
    namespace: config.leaseNamespace,
    name: config.leaseName,
    identity: config.identity,
    leaseDurationMs: config.leaseDurationMs,
    renewDeadlineMs: config.renewDeadlineMs,
    retryPeriodMs: config.retryPeriodMs,
    log,
  });
}

/** The controller's caches: meshes, reflector pods, the meshes' budgets and Secrets, the nodes. */
function makeInformers(config: OperatorConfig, kc: KubeConfig, metrics: OperatorMetrics, log: Logger) {
  const informerOptions = (name: string) => ({
    resyncMs: config.resyncMs,
    silenceMs: config.watchSilenceMs,
    logger: log,
    onTransition: (what: string) => metrics.informer.inc({ informer: name, what }),
  });
  const single = config.namespaces.length === 1 ? config.namespaces[0] : undefined;
  const filter = namespaceFilter(config.namespaces);
  const meshes = new Informer<ReflectorMesh>(filter(meshSource(kc, single)), informerOptions('reflectormeshes'));
  const pods = new Informer<V1Pod>(filter(podSource(kc, ALL_REFLECTORS_SELECTOR, single)), informerOptions('pods'));
  const budgets = new Informer<V1PodDisruptionBudget>(filter(budgetSource(kc, ALL_REFLECTORS_SELECTOR, single)), informerOptions('poddisruptionbudgets'));
  const secrets = SecretCache.over(
    (selector) => filter(secretSource(kc, selector, single)),
    (source) => new Informer<V1Secret>(source, informerOptions('secrets')),
  );
  // Nodes are cluster-scoped: one informer, whatever namespaces the operator watches.
  const nodes = new Informer<V1Node>(nodeSource(kc), informerOptions('nodes'));
  return { meshes, pods, budgets, secrets, nodes };
}

type Caches = ReturnType<typeof makeInformers>;

/**
 * The caches the controller does not wait for, so a missing RBAC rule (an upgrade that has not applied
 * the new ClusterRole yet) holds back only what needs them: the budgets are left alone until theirs has
 * synced, Secrets are read from the API until theirs have, ExternalIP meshes retry until the nodes'.
 */
function startSideInformers(c: Caches): void {
  c.budgets.start();
  for (const informer of c.secrets.informers) informer.start();
  c.nodes.start();
}

async function stopInformers(c: Caches): Promise<void> {
  await Promise.all([c.meshes.stop(), c.pods.stop(), c.budgets.stop(), c.nodes.stop(), ...c.secrets.informers.map((i) => i.stop())]);
}

export async function runOperator(config: OperatorConfig, log: Logger = pino({ level: config.logLevel, base: { component: 'operator' } })): Promise<void> {
  const metrics = new OperatorMetrics({ defaultMetrics: true });
  // Every API call below (informers, Lease, pods, status, Secrets, Events) counts in rest_client_*.
  const kc = meterKubeRequests(loadKubeConfig(config.kubeconfig), metrics.restClient);
  const caches = makeInformers(config, kc, metrics, log);
  const { meshes, pods, budgets, secrets, nodes } = caches;
  const kube = clientNodeKubeApi(kc);
  const elector = config.leaderElect ? leaderElector(config, kc, log) : undefined;
  // client-go's leader_election_master_status exists only with an election; 0 until it is won.
  const leaderStatus = (leading: boolean) => {
    metrics.leader.set(leading ? 1 : 0);
    if (elector) metrics.leaderElection.set(config.leaseName, leading);
  };
  leaderStatus(false);
  const controller = new MeshController({
    meshes,
    pods,
    nodes,
    budgets,
    secrets,
    kube,
    admin: httpReflectorAdmin({ timeoutMs: config.reflectorTimeoutMs, migrateTimeoutMs: config.migrateTimeoutMs }),
    recorder: new EventRecorder(kube, config.identity),
    log,
    metrics,
    defaultImage: config.reflectorImage,
    workers: config.workers,
    statusRefreshMs: config.statusRefreshMs,
    statusWriteIntervalMs: config.statusWriteIntervalMs,
    mayAct: () => elector?.isLeader() ?? true,
  });

  let leading = false;
  const server = await startServer({
    host: config.host,
    port: config.port,
    metrics,
    // Restarted by the kubelet when the leader's Lease went stale without it stepping down, or a pass hangs.
    unhealthy: () => elector?.leaseProblem() ?? controller.stuckWorker(),
    notReady: () => {
      if (!leading) return undefined; // a standby is ready to take over
      if (!meshes.hasSynced() || !pods.hasSynced()) return 'caches not synced';
      return undefined;
    },
  });
  // On every replica, leader or standby: it reads the meshes' status from the API (external-metrics/source.ts).
  const externalMetrics = config.externalMetrics
    ? await startExternalMetrics({ ...config.externalMetrics, host: config.host, namespaces: config.namespaces }, kc, log)
    : undefined;
  log.info({ port: config.port, namespaces: config.namespaces.length ? config.namespaces : 'all', leaderElection: config.leaderElect }, 'operator started');

  let stopping = false;
  const shutdown = async (code: number, why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'stopping');
    await controller.stop();
    // No longer acting, so no longer leading: said before the Lease is released, never after, or a
    // scrape between the two would show this pod leading while another holds the Lease.
    leaderStatus(false);
    await stopInformers(caches);
    await elector?.release();
    await server.close();
    await externalMetrics?.close();
    process.exitCode = code;
  };
  const done = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => void shutdown(0, 'SIGTERM').then(resolve));
    process.once('SIGINT', () => void shutdown(0, 'SIGINT').then(resolve));
  });

  if (elector) {
    try {
      await elector.acquire(() => {
        // A leader that may no longer hold the Lease must stop acting at once; a restart starts clean.
        log.error({}, 'lost leadership; exiting');
        // Bounded: a pass stuck in a call must not keep a former leader alive.
        void Promise.race([shutdown(1, 'lost leadership'), new Promise((r) => setTimeout(r, 5000))]).then(() => process.exit(1));
      });
    } catch (err) {
      if (stopping) return done;
      throw err;
    }
  }
  if (stopping) return done;
  leading = true;
  leaderStatus(true);
  meshes.start();
  pods.start();
  startSideInformers(caches);
  // Never decide on an empty cache: that would look like a mesh without pods.
  while (!stopping && !(meshes.hasSynced() && pods.hasSynced())) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (stopping) return done;
  controller.start();
  log.info({}, 'controller running');
  return done;
}

/** Unique per process, as client-go's: two operators on one host (or a restarted pod) never share it. */
export function defaultIdentity(): string {
  return `${process.env.POD_NAME ?? hostname()}_${randomUUID().slice(0, 8)}`;
}
