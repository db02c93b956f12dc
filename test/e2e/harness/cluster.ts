// The cluster an e2e scenario runs against, whichever way it was made. Two kinds implement it:
//   - the real-node cluster the harness builds on this machine (harness/real/cluster.ts): the default;
//   - an existing cluster, named by a kubeconfig (kind, k3d, any), as envtest's USE_EXISTING_CLUSTER:
//       RMESH_E2E_KUBECONFIG=path         use the cluster of that kubeconfig
//       USE_EXISTING_CLUSTER=true         use $KUBECONFIG (or ~/.kube/config)
//     with RMESH_E2E_IMAGE and RMESH_E2E_NEXT_IMAGE (the project's image under two names, both loaded
//     into the cluster's nodes) and optionally RMESH_E2E_VALUES (another values file for the chart) and
//     RMESH_E2E_CLIENT_ADDRESSES (local addresses for the clients, comma-separated).
// Scenarios see only this interface; what only the harness's own nodes allow (killing a node, a
// container's process, the API server) is in `faults`, undefined for a kubeconfig's cluster.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { chartValuesFile } from './chart.js';
import type { InstallOptions } from './mesh.js';
import type { RealNode } from './real/node.js';
import { waitFor as waitUntil } from '../../support/wait.js';
import { findToolchain, projectRoot } from './toolchain.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  /** How it was made: built here of real components, or an existing one named by a kubeconfig. */
  kind: 'real-nodes' | 'kubeconfig';
  kubeconfigPath: string;
  kc: KubeConfig;
  /** Runs kubectl with this cluster's kubeconfig; fails on a non-zero exit unless `allowFailure`. */
  kubectl(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Runs helm with this cluster's kubeconfig; fails on a non-zero exit unless `allowFailure`. */
  helm(args: string[], options?: RunOptions): Promise<RunResult>;
  /** The project's image as the cluster's nodes have it: what the operator and the reflectors run. */
  image: string;
  /** The same image under another name: what an image roll-out changes spec.reflector.image to. */
  nextImage: string;
  /** How the chart goes into this cluster (values files: the image, how pods reach the API server). */
  chart: InstallOptions;
  /**
   * The local address client `index` (1-based) binds to: an address of this host from which the nodes'
   * addresses are reached, or undefined for any (the route to the node chooses).
   */
  clientAddress(index: number): string | undefined;
  /** Faults injected below the API, which only the harness's own nodes allow; undefined otherwise. */
  faults: ClusterFaults | undefined;
  /** The harness's cluster: stops and removes all of it. A kubeconfig's: removes what the tests made there. */
  stop(): Promise<void>;
}

export interface ClusterFaults {
  /** The nodes, each of which can be killed (kubelet, containerd and containers at once). */
  nodes: RealNode[];
  /** SIGKILLs the processes of `pod`'s container `container` on its node, as the kernel's OOM killer would. */
  killContainer(pod: V1Pod, container: string): void;
  /** Stops kube-apiserver for `downMs` and starts it again (etcd keeps the state). */
  restartApiServer(downMs: number): Promise<void>;
}

export interface RunOptions {
  /** Written to the command's standard input (e.g. a manifest for `kubectl apply -f -`). */
  input?: string;
  allowFailure?: boolean;
  timeoutMs?: number;
}

/** The kubeconfig of an existing cluster to use, when the environment asks for one. */
export function existingClusterKubeconfig(): string | undefined {
  if (process.env.RMESH_E2E_KUBECONFIG) return process.env.RMESH_E2E_KUBECONFIG;
  if ((process.env.USE_EXISTING_CLUSTER ?? '').toLowerCase() === 'true') {
    return process.env.KUBECONFIG?.split(':')[0] || join(homedir(), '.kube/config');
  }
  return undefined;
}

/** True when this run's scenarios go to a kubeconfig's cluster (known when the test files load). */
export const kubeconfigMode = existingClusterKubeconfig() !== undefined;

export function run(command: string, args: string[], env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env, cwd: projectRoot, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        const result = { code, stdout, stderr };
        if (code !== 0 && !options.allowFailure) {
          reject(new Error(`${command} ${args.join(' ')} exited ${err?.signal ?? code}:\n${stderr || stdout}`));
        } else resolve(result);
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}

/** kubectl and helm: the toolchain's, else the machine's (an existing cluster needs no toolchain build). */
export function clusterTools(): { kubectl: string; helm: string } {
  const { toolchain } = findToolchain();
  return { kubectl: existsSync(toolchain.kubectl) ? toolchain.kubectl : 'kubectl', helm: existsSync(toolchain.helm) ? toolchain.helm : 'helm' };
}

function requiredEnv(name: string, what: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: against an existing cluster the e2e tests need ${what}`);
  return value;
}

/**
 * The existing cluster of `kubeconfigPath`. Nothing is started; stop() removes what the scenarios left
 * there: the meshes in `default` (their pods and Secrets go with them) and the chart's release.
 */
export function connectCluster(kubeconfigPath: string): Cluster {
  if (!existsSync(kubeconfigPath)) throw new Error(`the kubeconfig of the existing cluster, ${kubeconfigPath}, does not exist`);
  const image = requiredEnv('RMESH_E2E_IMAGE', 'the project\'s image as its nodes can run it (docker build -t NAME .; then load it, e.g. kind load docker-image NAME)');
  const nextImage = requiredEnv('RMESH_E2E_NEXT_IMAGE', 'a second name of the same image for the roll-out scenario (docker tag NAME NAME2; load it too)');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const { kubectl, helm } = clusterTools();
  const env = { ...process.env, KUBECONFIG: kubeconfigPath };
  const clientAddresses = (process.env.RMESH_E2E_CLIENT_ADDRESSES ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  const extraValues = process.env.RMESH_E2E_VALUES;
  if (extraValues && !existsSync(extraValues)) throw new Error(`RMESH_E2E_VALUES names ${extraValues}, which does not exist`);
  const cluster: Cluster = {
    kind: 'kubeconfig',
    kubeconfigPath,
    kc,
    kubectl: (args, o) => run(kubectl, args, env, o),
    helm: (args, o) => run(helm, args, env, o),
    image,
    nextImage,
    chart: { valuesFiles: [chartValuesFile(image, 'IfNotPresent'), ...(extraValues ? [extraValues] : [])] },
    clientAddress: (index) => (clientAddresses.length > 0 ? clientAddresses[(index - 1) % clientAddresses.length] : undefined),
    faults: undefined,
    async stop() {
      await cluster.kubectl(['delete', 'rmesh', '--all', '--namespace', 'default', '--wait=true', '--timeout=180s'], { allowFailure: true, timeoutMs: 200_000 });
      await cluster.helm(['uninstall', 'rmesh', '--namespace', 'rmesh-system', '--wait', '--timeout', '180s'], { allowFailure: true, timeoutMs: 200_000 });
    },
  };
  return cluster;
}

/**
 * The project's waitFor (tools/wait.ts, through test/support/wait.ts) at a cluster's pace: 60 s and a
 * probe every 250 ms unless told, and what is awaited first, as a scenario reads.
 */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  return waitUntil(check, { what, timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 250 });
}
