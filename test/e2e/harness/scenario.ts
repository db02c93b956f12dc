// The preamble of a traffic scenario, shared by its test files: a local cluster (or the existing one)
// with the chart installed before the tests, and the real clients a test starts stopped — and their
// reports awaited, so no client process outlives the file — before the cluster goes.
import { afterAll, beforeAll } from 'vitest';
import { startCluster, waitFor, type Cluster, type StartClusterOptions } from './cluster.js';
import { installChart, reflectorClients, startClient, type InstallOptions, type RunningClient } from './mesh.js';

type ClientOptions = Parameters<typeof startClient>[0];

export interface MeshScenario<C extends Cluster = Cluster> {
  /** The cluster, once beforeAll has run. */
  readonly cluster: C;
  /** `startClient`, tracked so the file's afterAll stops it. */
  startClient(options: ClientOptions): RunningClient;
  /**
   * Starts named clients one after another, each once a reflector at `addresses` lists it active: six
   * processes starting at once on a busy 2-core machine made joins time out. Fails with a client's
   * error if it exits first.
   */
  startClientsInTurn(list: (ClientOptions & { name: string })[], reflectors: { addresses: string[]; controlPort: number }): Promise<RunningClient[]>;
}

export interface MeshScenarioOptions<C extends Cluster> {
  /** Simulated nodes of the local cluster (default 4). */
  nodes?: number;
  cluster?: StartClusterOptions;
  /** Starts another kind of cluster instead (the real-node cluster: harness/real/cluster.ts). */
  start?: () => Promise<C>;
  /** How the chart is installed into that cluster. */
  chart?: (cluster: C) => InstallOptions;
  /** Time for beforeAll (the real-node cluster's first start builds its images: minutes). */
  startTimeoutMs?: number;
}

/** Registers beforeAll (a cluster, by default with `nodes` simulated nodes; the chart installed) and afterAll (clients, cluster). */
export function meshScenario<C extends Cluster = Cluster>(options: MeshScenarioOptions<C> = {}): MeshScenario<C> {
  let cluster: C | undefined;
  const clients: RunningClient[] = [];

  beforeAll(async () => {
    cluster = options.start
      ? await options.start()
      : ((await startCluster({ ...options.cluster, simulator: { nodes: options.nodes ?? 4, ...options.cluster?.simulator } })) as C);
    await installChart(cluster, options.chart?.(cluster));
  }, options.startTimeoutMs);

  afterAll(async () => {
    for (const c of clients) c.stop();
    await Promise.allSettled(clients.map((c) => c.report));
    await cluster?.stop();
  });

  return {
    get cluster(): C {
      if (!cluster) throw new Error('the cluster is not started yet (use it inside a test, after beforeAll)');
      return cluster;
    },
    startClient(o) {
      const client = startClient(o);
      clients.push(client);
      // Handled here so a client that fails is reported by the test awaiting it, not as unhandled.
      client.report.catch(() => undefined);
      return client;
    },
    async startClientsInTurn(list, reflectors) {
      const started: RunningClient[] = [];
      for (const o of list) {
        const client = this.startClient(o);
        started.push(client);
        await waitFor(
          `client ${o.name} registered at a reflector`,
          async () => {
            if (client.exited) await client.report;
            const statuses = await Promise.all(reflectors.addresses.map((a) => reflectorClients(a, reflectors.controlPort).catch(() => undefined)));
            return statuses.some((s) => s?.clients.some((c) => c.name === o.name && c.state === 'active'));
          },
          { timeoutMs: 60_000 },
        );
      }
      return started;
    },
  };
}
