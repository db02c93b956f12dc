// One node of the real-node cluster: a containerd and a kubelet, both real, both inside the node's
// network namespace (entered with `nsenter --net`, which keeps the host's /sys and its cgroup mounts),
// both in the node's daemon cgroup, with the node's pods in the node's own cgroup root. Each node has
// its own state, sockets, runc root and CNI configuration under the cluster's directories.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { issueClientCert } from '../certs.js';
import { writeKubeconfig } from '../kubeconfig.js';
import { ManagedProcess } from '../processes.js';
import { joinCgroupCommand, killCgroup, makeCgroup, removeCgroup } from './cgroups.js';
import { clusterRoutes, netnsPath, nodeAddress, podSubnet } from './network.js';

const execFileAsync = promisify(execFile);

export interface NodeSetup {
  index: number;
  /** Directory for this node's persistent state (containerd's images, the kubelet's pods). */
  dataDir: string;
  /** Directory for its runtime state (sockets, runc's root). */
  runDir: string;
  /** The cluster's cgroup; the node's daemons and pods go in children of it. */
  clusterCgroup: string;
  server: string;
  caDir: string;
  caCert: string;
  kubelet: string;
  /** Image tar imported into containerd before the kubelet starts, and the sandbox image's name. */
  imageTar: string;
  pauseImage: string;
}

export class RealNode {
  readonly name: string;
  readonly address: string;
  private containerd: ManagedProcess | undefined;
  private kubelet: ManagedProcess | undefined;

  constructor(private readonly s: NodeSetup) {
    this.name = `node-${s.index}`;
    this.address = nodeAddress(s.index);
  }

  private get dir(): string {
    return join(this.s.dataDir, this.name);
  }

  private get run(): string {
    return join(this.s.runDir, this.name);
  }

  get socket(): string {
    return join(this.run, 'containerd.sock');
  }

  /** The cgroup of the node's pods (the kubelet's cgroupRoot) and of its daemons. */
  get podsCgroup(): string {
    return `${this.s.clusterCgroup}/${this.name}`;
  }

  private get daemonsCgroup(): string {
    return `${this.s.clusterCgroup}/${this.name}-daemons`;
  }

  /** Starts containerd, imports the images, starts the kubelet (registration is awaited by the cluster). */
  async start(): Promise<void> {
    for (const d of [this.dir, this.run, join(this.dir, 'cni'), join(this.dir, 'kubelet')]) mkdirSync(d, { recursive: true });
    makeCgroup(this.podsCgroup);
    makeCgroup(this.daemonsCgroup);
    this.writeContainerdConfig();
    this.containerd = this.spawn('containerd', ['containerd', '--config', join(this.dir, 'containerd.toml')]);
    await this.waitForContainerd();
    await this.ctr(['images', 'import', this.s.imageTar], 600_000);
    this.kubelet = this.spawn('kubelet', [this.s.kubelet, ...this.kubeletArgs()]);
  }

  private spawn(name: string, command: string[]): ManagedProcess {
    const [shell, ...args] = [...joinCgroupCommand(this.daemonsCgroup), 'nsenter', `--net=${netnsPath(this.s.index)}`, '--', ...command];
    return new ManagedProcess({
      name: `${this.name} ${name}`,
      command: shell as string,
      args,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: this.dir },
      logFile: join(this.dir, `${name}.log`),
    });
  }

  /** `ctr` against this node's containerd, in its k8s.io namespace. */
  async ctr(args: string[], timeoutMs = 60_000): Promise<string> {
    const { stdout } = await execFileAsync('ctr', ['--address', this.socket, '-n', 'k8s.io', ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  }

  private async waitForContainerd(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.containerd?.running) throw new Error(`${this.name}: containerd exited; see ${join(this.dir, 'containerd.log')}`);
      if (await this.ctr(['version'], 5_000).then(() => true, () => false)) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: containerd did not answer on ${this.socket} within 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private writeContainerdConfig(): void {
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    writeFileSync(
      join(this.dir, 'containerd.toml'),
      [
        'version = 2',
        `root = "${join(this.dir, 'containerd')}"`,
        `state = "${join(this.run, 'containerd')}"`,
        'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
        '[grpc]',
        `  address = "${this.socket}"`,
        '[ttrpc]',
        `  address = "${this.socket}.ttrpc"`,
        `[${cri}]`,
        // No CAP_SYS_RESOURCE here: containerd must not try to lower its containers' OOM score adj.
        '  restrict_oom_score_adj = true',
        `  sandbox_image = "${this.s.pauseImage}"`,
        // Pod network namespaces under this node's state directory, not the host's /run/netns.
        '  netns_mounts_under_state_dir = true',
        `[${cri}.cni]`,
        '  bin_dir = "/usr/lib/cni"',
        `  conf_dir = "${join(this.dir, 'cni')}"`,
        `[${cri}.containerd.runtimes.runc]`,
        '  runtime_type = "io.containerd.runc.v2"',
        `[${cri}.containerd.runtimes.runc.options]`,
        '  SystemdCgroup = false',
        `  Root = "${join(this.run, 'runc')}"`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.dir, 'cni', '10-rmesh-e2e.conflist'),
      JSON.stringify({
        cniVersion: '0.4.0',
        name: 'rmesh-e2e',
        plugins: [
          {
            type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
            // Routes to the cluster's addresses only (the API server, the nodes, other pods), no default.
            ipam: {
              type: 'host-local', ranges: [[{ subnet: podSubnet(this.s.index) }]], dataDir: join(this.dir, 'ipam'),
              routes: clusterRoutes.map((dst) => ({ dst })),
            },
          },
        ],
      }),
    );
  }

  private kubeletArgs(): string[] {
    const cert = issueClientCert(this.s.caDir, `kubelet-${this.name}`, `/O=system:nodes/CN=system:node:${this.name}`);
    const kubeconfig = join(this.dir, 'kubelet.kubeconfig');
    writeKubeconfig(kubeconfig, { server: this.s.server, ca: { file: this.s.caCert }, user: { clientCertFile: cert.cert, clientKeyFile: cert.key } });
    const config = {
      apiVersion: 'kubelet.config.k8s.io/v1beta1',
      kind: 'KubeletConfiguration',
      cgroupDriver: 'cgroupfs',
      cgroupRoot: this.podsCgroup,
      cgroupsPerQOS: true,
      containerRuntimeEndpoint: `unix://${this.socket}`,
      address: this.address,
      healthzBindAddress: '127.0.0.1',
      readOnlyPort: 0,
      failSwapOn: false,
      resolvConf: '',
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: this.s.caCert } },
      authorization: { mode: 'AlwaysAllow' },
      // The machine's disk is shared: evict only when it is really full, and never GC our images.
      evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%' },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      nodeStatusUpdateFrequency: '5s',
      podLogsDir: join(this.dir, 'pod-logs'),
      shutdownGracePeriod: '0s',
      serializeImagePulls: false,
    };
    const configFile = join(this.dir, 'kubelet.yaml');
    writeFileSync(configFile, stringify(config));
    return [
      `--config=${configFile}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${join(this.dir, 'kubelet')}`,
      `--cert-dir=${join(this.dir, 'kubelet', 'pki')}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.address}`,
      '--v=1',
    ];
  }

  /** The node is lost, as a host that loses power: kubelet, containerd and every container SIGKILLed at once. */
  async kill(): Promise<void> {
    await Promise.all([killCgroup(this.daemonsCgroup), killCgroup(this.podsCgroup)]);
    await Promise.all([this.kubelet?.exited, this.containerd?.exited]);
  }

  /** Stops the kubelet and containerd, kills whatever they started, removes the node's cgroups. */
  async stop(): Promise<void> {
    await this.kubelet?.stop(10_000);
    await this.containerd?.stop(10_000);
    await killCgroup(this.podsCgroup);
    await killCgroup(this.daemonsCgroup);
    removeCgroup(this.podsCgroup);
    removeCgroup(this.daemonsCgroup);
  }
}
