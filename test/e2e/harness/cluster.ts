// The cluster an e2e test runs against: a throw-away local control plane (etcd + kube-apiserver) with the
// node and pod simulator, or — when told to — an existing cluster (kind, k3d, ...) as envtest does:
//   RMESH_E2E_KUBECONFIG=path         use the cluster of that kubeconfig
//   USE_EXISTING_CLUSTER=true         use $KUBECONFIG (or ~/.kube/config)
// Also: RMESH_E2E_KEEP=1 keeps the control plane's directory (certificates, logs) after the tests.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, type ControlPlaneOptions } from './control-plane.js';
import { Simulator, type SimulatorOptions } from './simulator.js';
import { findToolchain, projectRoot, toolchainCommand, type Toolchain } from './toolchain.js';
import { waitFor as pollUntil } from '../../support/wait.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  kubeconfigPath: string;
  kc: KubeConfig;
  /** True when running against an existing cluster (no local control plane, no simulator). */
  existing: boolean;
  /** The simulator of the local cluster; undefined on an existing cluster. */
  simulator: Simulator | undefined;
  /** Runs kubectl with this cluster's kubeconfig; fails on a non-zero exit unless `allowFailure`. */
  kubectl(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Runs helm with this cluster's kubeconfig; fails on a non-zero exit unless `allowFailure`. */
  helm(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Stops the simulator's processes and the control plane (nothing to stop on an existing cluster). */
  stop(): Promise<void>;
}

export interface RunOptions {
  /** Written to the command's standard input (e.g. a manifest for `kubectl apply -f -`). */
  input?: string;
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface StartClusterOptions {
  /** Always start a local control plane, even when the environment names an existing cluster. */
  local?: boolean;
  controlPlane?: Omit<ControlPlaneOptions, 'toolchain'>;
  /** Simulator options (all but the kubeconfig). */
  simulator?: Omit<SimulatorOptions, 'kc'>;
}

/** The kubeconfig of an existing cluster to use, when the environment asks for one. */
export function existingClusterKubeconfig(): string | undefined {
  if (process.env.RMESH_E2E_KUBECONFIG) return process.env.RMESH_E2E_KUBECONFIG;
  if ((process.env.USE_EXISTING_CLUSTER ?? '').toLowerCase() === 'true') {
    return process.env.KUBECONFIG?.split(':')[0] || join(homedir(), '.kube/config');
  }
  return undefined;
}

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

function tools(): { kubectl: string; helm: string; toolchain: Toolchain | undefined } {
  const { toolchain, missing } = findToolchain();
  if (missing.length === 0) return { kubectl: toolchain.kubectl, helm: toolchain.helm, toolchain };
  return { kubectl: existsSync(toolchain.kubectl) ? toolchain.kubectl : 'kubectl', helm: existsSync(toolchain.helm) ? toolchain.helm : 'helm', toolchain: undefined };
}

/** Starts a local cluster with the simulator, or connects to the existing one the environment names. */
export async function startCluster(options: StartClusterOptions = {}): Promise<Cluster> {
  const { kubectl, helm, toolchain } = tools();
  const existing = options.local ? undefined : existingClusterKubeconfig();
  let plane: ControlPlane | undefined;
  let kubeconfigPath: string;
  if (existing) {
    if (!existsSync(existing)) throw new Error(`the kubeconfig of the existing cluster, ${existing}, does not exist`);
    kubeconfigPath = existing;
  } else {
    if (!toolchain) {
      throw new Error(`the e2e toolchain (kube-apiserver, etcd, kubectl, helm) is missing: run \`${toolchainCommand}\``);
    }
    plane = await ControlPlane.start({
      toolchain,
      ...options.controlPlane,
      keepDir: options.controlPlane?.keepDir ?? process.env.RMESH_E2E_KEEP === '1',
    });
    kubeconfigPath = plane.kubeconfigPath;
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  let simulator: Simulator | undefined;
  if (plane) {
    try {
      simulator = await Simulator.start({ ...options.simulator, kc });
    } catch (err) {
      await plane.stop();
      throw err;
    }
  }
  const env = { ...process.env, KUBECONFIG: kubeconfigPath };
  return {
    kubeconfigPath,
    kc,
    existing: existing !== undefined,
    simulator,
    kubectl: (args, o) => run(kubectl, args, env, o),
    helm: (args, o) => run(helm, args, env, o),
    async stop() {
      await simulator?.stop();
      await plane?.stop();
    },
  };
}

/**
 * Polls `check` until it returns a value other than undefined/false; fails with `what` after the
 * timeout. The project's one wait helper (test/support/wait.ts) with the e2e suite's argument order
 * and its slower defaults (a real cluster: 60 s, a probe every 250 ms).
 */
export function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  return pollUntil(check, { what, timeoutMs: options.timeoutMs ?? 60_000, intervalMs: options.intervalMs ?? 250 });
}
