// Where the e2e toolchain (kube-apiserver, etcd, kubectl, helm) is, and how to get it: the pinned
// versions live in toolchain/versions.env and toolchain/build.sh builds them from source with Go.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const projectRoot = resolve(here, '../../..');

/** The one command that builds the toolchain. */
export const toolchainCommand = 'npm run e2e:toolchain';

const buildScript = join(projectRoot, 'test/e2e/toolchain/build.sh');

export interface ToolchainVersions {
  K8S_VERSION: string;
  ETCD_VERSION: string;
  HELM_VERSION: string;
}

export interface Toolchain {
  binDir: string;
  kubeApiserver: string;
  etcd: string;
  kubectl: string;
  helm: string;
  versions: ToolchainVersions;
}

/** A version pinned in test/e2e/toolchain/versions.env (K8S_VERSION, KEDA_VERSION, ...). */
export function pinnedVersion(key: string): string {
  const text = readFileSync(join(projectRoot, 'test/e2e/toolchain/versions.env'), 'utf8');
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(\S+)\s*$/.exec(line);
    if (match?.[1] === key && match[2]) return match[2];
  }
  throw new Error(`test/e2e/toolchain/versions.env has no ${key}`);
}

export function toolchainVersions(): ToolchainVersions {
  return { K8S_VERSION: pinnedVersion('K8S_VERSION'), ETCD_VERSION: pinnedVersion('ETCD_VERSION'), HELM_VERSION: pinnedVersion('HELM_VERSION') };
}

/** The toolchain's bin directory, as build.sh computes it. */
export function toolchainBinDir(versions = toolchainVersions()): string {
  const dir = process.env.RMESH_TOOLCHAIN_DIR ?? join(projectRoot, '.cache/k8s', versions.K8S_VERSION);
  return join(dir, 'bin');
}

function toolchainAt(binDir: string, versions: ToolchainVersions): Toolchain {
  return {
    binDir,
    kubeApiserver: join(binDir, 'kube-apiserver'),
    etcd: join(binDir, 'etcd'),
    kubectl: join(binDir, 'kubectl'),
    helm: join(binDir, 'helm'),
    versions,
  };
}

/** The toolchain when all four binaries are there, else the names of the missing ones. */
export function findToolchain(): { toolchain: Toolchain; missing: string[] } {
  const versions = toolchainVersions();
  const toolchain = toolchainAt(toolchainBinDir(versions), versions);
  const missing = (['kubeApiserver', 'etcd', 'kubectl', 'helm'] as const)
    .filter((key) => !existsSync(toolchain[key]))
    .map((key) => (key === 'kubeApiserver' ? 'kube-apiserver' : key));
  return { toolchain, missing };
}

/**
 * Runs build.sh for `tools` (all of the default set when none; progress on stderr). A cold build takes a
 * while, a cached one seconds, because the script also checks the cached binaries' versions. While the
 * background preparation (prepare.sh) is building, build.sh waits for it and says so every minute.
 */
export function runBuildScript(tools: readonly string[], what: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => reject(new Error(`building ${what} failed (${why}); see the output above, fix it and run \`${command}\``));
    const child = spawn('bash', [buildScript, ...tools], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', (err) => fail(err.message));
    child.on('close', (code, signal) => (code === 0 ? resolve() : fail(`exit ${signal ?? code}`)));
  });
}

/**
 * The toolchain, built first by build.sh when missing. A test awaits it in a hook that allows
 * `toolchainWaitMs`: a cold build takes a quarter of an hour on an idle 2-core machine, an hour on a busy one.
 */
export async function readyToolchain(): Promise<Toolchain> {
  await runBuildScript([], 'the e2e toolchain', toolchainCommand);
  const { toolchain, missing } = findToolchain();
  if (missing.length > 0) {
    throw new Error(`${buildScript} finished but ${missing.join(', ')} missing in ${toolchain.binDir}`);
  }
  return toolchain;
}

/**
 * How long a hook may wait for readyToolchain: a cold build on 2 busy cores (docs/testing.md has 19
 * minutes alone and over 70 under heavy load), with progress printed every minute meanwhile.
 */
export const toolchainWaitMs = 90 * 60_000;
