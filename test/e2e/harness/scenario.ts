// The preamble of a scenario file: the cluster (the real-node cluster the harness builds, or the
// existing one a kubeconfig names: see cluster.ts) with the chart installed before the tests, and the
// real clients a test starts stopped when that test ends — their reports awaited, so no client process
// outlives its test. Scenarios that need the harness's own nodes are declared with
// `itOnOwnNodes`, which skips them on a kubeconfig's cluster and says why.
import { afterAll, beforeAll, it, onTestFinished } from 'vitest';
import { connectCluster, existingClusterKubeconfig, kubeconfigMode, waitFor, type Cluster } from './cluster.js';
import { installChart, reflectorClients, startClient, type InstallOptions, type RunningClient } from './mesh.js';
import { describeMoves } from './reports.js';
import { realClusterStartTimeoutMs, startRealCluster } from './real/cluster.js';

type ClientOptions = Parameters<typeof startClient>[0];

export interface MeshScenario {
  /** The cluster, once beforeAll has run. */
  readonly cluster: Cluster;
  /** `startClient`, stopped when the test that started it ends (inside a test only). */
  startClient(options: ClientOptions): RunningClient;
  /**
   * Starts named clients one after another, each once a reflector at `addresses` lists it active: six
   * processes starting at once on a busy 2-core machine made joins time out. Fails with a client's
   * error if it exits first.
   */
  startClientsInTurn(list: (ClientOptions & { name: string })[], reflectors: { addresses: string[]; controlPort: number }): Promise<RunningClient[]>;
}

/** The cluster of this run: the kubeconfig's when the environment names one, else three real nodes built here. */
export async function startE2ECluster(): Promise<Cluster> {
  const kubeconfig = existingClusterKubeconfig();
  return kubeconfig ? connectCluster(kubeconfig) : startRealCluster({ nodes: 3 });
}

/**
 * A scenario that needs the harness's own nodes — their processes, kubelets or API server, which a
 * kubeconfig does not reach. On a kubeconfig's cluster it is skipped, and the run prints `reason`.
 */
export function itOnOwnNodes(name: string, reason: string, test: () => Promise<void>): void {
  if (kubeconfigMode) console.log(`[e2e] skipped on the kubeconfig's cluster: "${name}": ${reason}`);
  it.skipIf(kubeconfigMode)(name, test);
}

/** Registers beforeAll (the cluster; the chart installed, with `chart.set` too) and afterAll (the cluster). */
export function meshScenario(chart: Pick<InstallOptions, 'set'> = {}): MeshScenario {
  let cluster: Cluster | undefined;

  // The real-node cluster's first start builds its images: minutes.
  beforeAll(async () => {
    cluster = await startE2ECluster();
    await installChart(cluster, { ...cluster.chart, set: [...(cluster.chart.set ?? []), ...(chart.set ?? [])] });
  }, realClusterStartTimeoutMs);

  afterAll(async () => {
    await cluster?.stop();
  });

  return {
    get cluster(): Cluster {
      if (!cluster) throw new Error('the cluster is not started yet (use it inside a test, after beforeAll)');
      return cluster;
    },
    startClient(o) {
      // A test that fails part-way must not leave its clients running: they would stay joined to the
      // mesh and spoil the next scenario's counts (CI once saw a failed upgrade's four clients fail the
      // roll-out scenario after it). What they saw is printed, for the failure's story. Registered
      // first: outside a test vitest refuses it, before any process is started.
      onTestFinished(async ({ task }) => {
        client.stop();
        const outcome = await client.report.then((r) => describeMoves([r]), (err: unknown) => String(err));
        if (task.result?.state === 'fail') console.log(`[e2e] a client of the failed test, stopped: ${outcome}`);
      });
      const client = startClient(o);
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
