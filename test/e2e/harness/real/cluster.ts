// The real-node cluster: etcd and kube-apiserver (the harness's ControlPlane, on the host's address on
// the cluster bridge), kube-controller-manager and kube-scheduler, and N nodes each with its own
// kubelet and containerd in its own network namespace, running the project's image built from its
// Dockerfile. Everything it starts lives under one cgroup, one bridge, fixed directories and namespaces
// of fixed names, so stop() — or, after a killed run, the next start's reap() — removes all of it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { chartValuesFile } from '../chart.js';
import { run, waitFor, type Cluster, type ClusterFaults } from '../cluster.js';
import { ControlPlane } from '../control-plane.js';
import { ManagedProcess } from '../processes.js';
import { readyToolchain, toolchainWaitMs } from '../toolchain.js';
import { clusterCgroup, joinCgroupCommand, killCgroup, makeCgroup, removeCgroup } from './cgroups.js';
import { containerPids } from './containers.js';
import { buildClusterImages, type ClusterImages } from './images.js';
import { clientAddress, clientAddressCount, clusterNet, createBridge, createNodeNetwork, removeClusterNetwork } from './network.js';
import { RealNode } from './node.js';

const dataDir = '/var/lib/rmesh-e2e';
const runDir = '/run/rmesh-e2e';
const apiServerPort = 6443;

/**
 * Time for a scenario file's beforeAll: on a fresh machine it waits for the toolchain (toolchainWaitMs)
 * and the images (debootstrap, docker build: about 10 minutes on 2 cores), then the cluster starts (1–2
 * minutes) and the chart goes in.
 */
export const realClusterStartTimeoutMs = toolchainWaitMs + 30 * 60_000;

export interface RealCluster extends Cluster {
  kind: 'real-nodes';
  faults: ClusterFaults;
  images: ClusterImages;
  /** host:port of the API server as pods must use it (no Service IP is reachable here). */
  apiServer: { host: string; port: number };
  plane: ControlPlane;
}

/** Kills and removes whatever a killed earlier run left: processes, mounts, directories, network, cgroups. */
export async function reap(): Promise<void> {
  const memory = '/sys/fs/cgroup/memory';
  const leftovers = execFileSync('find', [memory, '-maxdepth', '6', '-type', 'd', '-name', 'rmesh-e2e'], { encoding: 'utf8' })
    .split('\n').filter(Boolean).map((d) => d.slice(memory.length));
  for (const cg of leftovers) await killCgroup(cg);
  unmountUnder([dataDir, runDir]);
  rmSync(runDir, { recursive: true, force: true });
  discard(dataDir);
  removeClusterNetwork();
  for (const cg of leftovers) removeCgroup(cg);
}

/**
 * Removes a node data directory without waiting: three unpacked images are tens of thousands of files,
 * minutes of a synchronous rm on a busy machine. It is renamed at once and removed by a detached `rm`;
 * leftovers of an interrupted removal go the same way at the next start.
 */
function discard(dir: string): void {
  const parent = dirname(dir);
  const old = existsSync(parent) ? readdirSync(parent).filter((n) => n.startsWith(`${basename(dir)}.old-`)).map((n) => join(parent, n)) : [];
  if (existsSync(dir)) {
    const aside = `${dir}.old-${Date.now()}`;
    renameSync(dir, aside);
    old.push(aside);
  }
  if (old.length > 0) spawn('rm', ['-rf', ...old], { detached: true, stdio: 'ignore' }).unref();
}

/** Logs how long a step of the cluster's start took (the timings docs/testing.md reports). */
async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  console.log(`[e2e-cluster] ${what} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function unmountUnder(dirs: string[]): void {
  const points = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => dirs.some((d) => p === d || p.startsWith(`${d}/`)))
    .sort((a, b) => b.length - a.length);
  for (const p of points) execFileSync('umount', ['-l', p], { stdio: 'ignore' });
}

export async function startRealCluster(options: { nodes?: number } = {}): Promise<RealCluster> {
  const toolchain = await step('toolchain ready', readyToolchain);
  const bins = ['kubelet', 'kube-scheduler', 'kube-controller-manager'].map((b) => join(toolchain.binDir, b));
  const absent = bins.filter((b) => !existsSync(b));
  if (absent.length > 0) throw new Error(`the real-node cluster needs ${absent.join(', ')}: run \`bash test/e2e/toolchain/build.sh\``);
  const images = await step('images built', buildClusterImages);
  await step('leftovers reaped', reap);
  const cgroup = clusterCgroup();
  const controlCgroup = `${cgroup}/control-plane`;
  makeCgroup(controlCgroup);
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  const count = options.nodes ?? 3;
  const nodes: RealNode[] = [];
  const daemons: ManagedProcess[] = [];
  let plane: ControlPlane | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await Promise.allSettled(daemons.map((d) => d.stop(5_000)));
    await plane?.stop();
    await killCgroup(cgroup);
    unmountUnder([dataDir, runDir]);
    rmSync(runDir, { recursive: true, force: true });
    if (process.env.RMESH_E2E_KEEP !== '1') discard(dataDir);
    removeClusterNetwork();
    removeCgroup(cgroup);
  };
  try {
    createBridge();
    for (let i = 1; i <= count; i++) createNodeNetwork(i, count);
    plane = await step('etcd and kube-apiserver ready', () =>
      ControlPlane.start({ toolchain, address: clusterNet.hostAddress, apiServerPort, keepDir: process.env.RMESH_E2E_KEEP === '1' }));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: plane.dir };
    const controller = (name: string, args: string[]): ManagedProcess => {
      const [shell, ...rest] = [...joinCgroupCommand(controlCgroup), join(toolchain.binDir, name), `--kubeconfig=${plane?.kubeconfigPath}`, ...args];
      return new ManagedProcess({ name, command: shell as string, args: rest, env, logFile: join(plane?.dir ?? dataDir, `${name}.log`) });
    };
    daemons.push(
      controller('kube-controller-manager', [
        '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=10257',
        `--service-account-private-key-file=${plane.certs.serviceAccountKey}`, `--root-ca-file=${plane.certs.caCert}`,
        '--controllers=*', '--use-service-account-credentials=false',
        // A lost node is NotReady 20 s after its last heartbeat (the kubelets report every 5 s).
        '--node-monitor-grace-period=20s', '--node-monitor-period=2s',
        '--horizontal-pod-autoscaler-sync-period=5s', '--v=1',
      ]),
      controller('kube-scheduler', ['--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=10259', '--v=1']),
    );
    for (let i = 1; i <= count; i++) {
      nodes.push(new RealNode({
        index: i, dataDir, runDir, clusterCgroup: cgroup, server: plane.server, caDir: plane.dir, caCert: plane.certs.caCert,
        kubelet: bins[0] as string, imageTar: images.tar, pauseImage: images.pause,
      }));
    }
    await step(`${count} nodes started (containerd, images imported, kubelet)`, () => Promise.all(nodes.map((n) => n.start())));
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await step(`${count} nodes Ready`, () => waitFor(`${count} nodes Ready`, async () => {
      const list = await core.listNode();
      const ready = list.items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === count;
    }, { timeoutMs: 180_000, intervalMs: 1000 }));
    const kubeEnv = { ...process.env, KUBECONFIG: plane.kubeconfigPath };
    const startedPlane = plane;
    const apiServer = { host: clusterNet.hostAddress, port: apiServerPort };
    return {
      kind: 'real-nodes', kubeconfigPath: plane.kubeconfigPath, kc, images, plane: startedPlane, apiServer,
      image: images.image, nextImage: images.nextImage,
      chart: { valuesFiles: [chartValuesFile(images.image, 'Never', apiServer)] },
      // Addresses of the host on the bridge, outside every node: each client a host of its own.
      clientAddress: (index) => clientAddress(((index - 1) % clientAddressCount) + 1),
      faults: {
        nodes,
        killContainer(pod, container) {
          const node = nodes.find((n) => n.name === pod.spec?.nodeName);
          const pids = node ? containerPids(node.podsCgroup, pod, container) : [];
          if (pids.length === 0) throw new Error(`no process of container ${container} of pod ${pod.metadata?.name} found on ${pod.spec?.nodeName}`);
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch (err) {
              // Gone with the container's init, killed first: the kernel ends the rest of its pid namespace.
              if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
            }
          }
        },
        restartApiServer: (downMs) => startedPlane.restartApiServer(downMs),
      },
      kubectl: (args, o) => run(toolchain.kubectl, args, kubeEnv, o),
      helm: (args, o) => run(toolchain.helm, args, kubeEnv, o),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

