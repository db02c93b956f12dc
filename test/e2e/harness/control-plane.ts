// A throw-away Kubernetes control plane for the e2e tests: etcd and kube-apiserver on a loopback
// address (or, for the real-node cluster, the host's address on its bridge), with certificates made for
// it and an admin kubeconfig. Alone it has no kube-controller-manager and no scheduler:
// harness/real/cluster.ts adds the real ones, and real nodes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeControlPlaneCerts, type ControlPlaneCerts } from './certs.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ManagedProcess } from './processes.js';
import type { Toolchain } from './toolchain.js';

export interface ControlPlaneOptions {
  toolchain: Toolchain;
  /** Loopback address of etcd and the API server. */
  address?: string;
  etcdClientPort?: number;
  etcdPeerPort?: number;
  apiServerPort?: number;
  /** Keep the working directory (certificates, etcd data, logs) after stop, for debugging. */
  keepDir?: boolean;
  /** How long to wait for the API server to become ready. */
  readyTimeoutMs?: number;
}

export const defaultControlPlane = {
  address: '127.0.3.1',
  etcdClientPort: 30379,
  etcdPeerPort: 30380,
  apiServerPort: 30443,
} as const;

export class ControlPlane {
  private constructor(
    readonly dir: string,
    readonly server: string,
    readonly kubeconfigPath: string,
    readonly certs: ControlPlaneCerts,
    private readonly etcd: ManagedProcess,
    private apiServer: ManagedProcess,
    private readonly keepDir: boolean,
  ) {}

  /** Starts etcd, then kube-apiserver, and waits until /readyz answers ok. */
  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const address = options.address ?? defaultControlPlane.address;
    const etcdClientPort = options.etcdClientPort ?? defaultControlPlane.etcdClientPort;
    const etcdPeerPort = options.etcdPeerPort ?? defaultControlPlane.etcdPeerPort;
    const apiServerPort = options.apiServerPort ?? defaultControlPlane.apiServerPort;
    const dir = mkdtempSync(join(tmpdir(), 'rmesh-e2e-control-plane-'));
    const certs = makeControlPlaneCerts(dir, address);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };

    const etcdUrl = `http://${address}:${etcdClientPort}`;
    const peerUrl = `http://${address}:${etcdPeerPort}`;
    const etcd = new ManagedProcess({
      name: 'etcd',
      command: options.toolchain.etcd,
      args: [
        '--name=e2e',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=e2e=${peerUrl}`,
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      env,
      logFile: join(dir, 'etcd.log'),
    });

    const server = `https://${address}:${apiServerPort}`;
    const apiServer = new ManagedProcess({
      name: 'kube-apiserver',
      command: options.toolchain.kubeApiserver,
      args: [
        `--advertise-address=${address}`,
        `--bind-address=${address}`,
        `--secure-port=${apiServerPort}`,
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${join(dir, 'apiserver')}`,
        `--tls-cert-file=${certs.servingCert}`,
        `--tls-private-key-file=${certs.servingKey}`,
        `--client-ca-file=${certs.caCert}`,
        // Its client certificate towards kubelets (real nodes: kubectl logs and exec go through it).
        `--kubelet-client-certificate=${certs.adminCert}`,
        `--kubelet-client-key=${certs.adminKey}`,
        // A node's name (node-1) resolves nowhere here: dial its kubelet at its InternalIP.
        '--kubelet-preferred-address-types=InternalIP,Hostname',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${certs.serviceAccountPublicKey}`,
        `--service-account-signing-key-file=${certs.serviceAccountKey}`,
        '--service-cluster-ip-range=10.0.0.0/24',
        // The aggregation layer (APIServices such as the operator's external metrics API): the front
        // proxy's client certificate towards extension API servers, the CA and names they check it
        // against (published in kube-system/extension-apiserver-authentication), the user headers; and
        // routing to the Service's endpoint addresses, as there is no kube-proxy to reach a Service IP.
        `--requestheader-client-ca-file=${certs.frontProxy.caCert}`,
        `--requestheader-allowed-names=${certs.frontProxy.allowedName}`,
        '--requestheader-username-headers=X-Remote-User',
        '--requestheader-group-headers=X-Remote-Group',
        '--requestheader-extra-headers-prefix=X-Remote-Extra-',
        `--proxy-client-cert-file=${certs.frontProxy.clientCert}`,
        `--proxy-client-key-file=${certs.frontProxy.clientKey}`,
        '--enable-aggregator-routing=true',
        '--authorization-mode=Node,RBAC',
        '--allow-privileged=true',
        '--profiling=false',
        '--v=1',
      ],
      env,
      logFile: join(dir, 'kube-apiserver.log'),
    });

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfigPath, {
      server,
      ca: { file: certs.caCert },
      user: { clientCertFile: certs.adminCert, clientKeyFile: certs.adminKey },
    });
    const plane = new ControlPlane(dir, server, kubeconfigPath, certs, etcd, apiServer, options.keepDir ?? false);
    try {
      await plane.waitReady(options.readyTimeoutMs ?? 90_000);
    } catch (err) {
      await plane.stop(true);
      throw err;
    }
    return plane;
  }

  /**
   * Stops kube-apiserver (SIGTERM, as a rolling control-plane upgrade does), keeps it down for
   * `downMs`, starts it again with the same flags and waits until it is ready.
   */
  async restartApiServer(downMs: number): Promise<void> {
    const old = this.apiServer;
    await old.stop(10_000);
    await new Promise((r) => setTimeout(r, downMs));
    this.apiServer = new ManagedProcess(old.options);
    await this.waitReady(90_000);
  }

  /** Resolves when GET /readyz answers ok; fails early when etcd or the API server exits. */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      for (const p of [this.etcd, this.apiServer]) {
        if (!p.running) {
          const exit = await p.exited;
          throw new Error(
            `${p.name} exited (${exit.signal ?? `code ${exit.code}`}) before the API server was ready; ` +
              `its log (${p.logFile}) ends with:\n${tail(p.logFile)}`,
          );
        }
      }
      last = await this.get('/readyz').catch((err: Error) => err.message);
      if (last === 'ok') return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(
      `kube-apiserver at ${this.server} not ready after ${timeoutMs} ms (last: ${last}); ` +
        `its log ends with:\n${tail(this.apiServer.logFile)}`,
    );
  }

  /** A GET with the admin certificate; resolves to the body of a 200 answer. */
  get(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.server}${path}`,
        {
          ca: readFileSync(this.certs.caCert),
          cert: readFileSync(this.certs.adminCert),
          key: readFileSync(this.certs.adminKey),
          timeout: 5000,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 200)}`))));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  /** Stops the API server, then etcd, and removes the working directory unless asked to keep it. */
  async stop(keepDir = this.keepDir): Promise<void> {
    await this.apiServer.stop(10_000);
    await this.etcd.stop(10_000);
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
