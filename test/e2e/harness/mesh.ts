// Helpers the e2e scenarios share: install the chart, apply a mesh, wait until a mesh has converged
// (its reflectors Ready and fully peered, its status Ready), and run real `rmesh client` processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import type { MeshEventReport } from '../../../tools/generator/analyzer.js';
import type { ClientReport } from '../../../tools/generator/report.js';
import type { AutoscalingStatus } from '../../../operator/api/v1alpha1/autoscaling.js';
import { waitFor, type Cluster } from './cluster.js';
import { projectRoot } from './toolchain.js';
import { parseMeshKeyBase64 } from '../../../protocol/security/mesh-key.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { peerControlKey, signPeerRequest } from '../../../protocol/security/peer-control.js';

/** What `rmesh client --report json` prints: the generator's own report types. */
export type { ClientReport, MeshEventReport };

export interface MeshObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown> & { replicas?: number; ports?: { data: number; control: number } };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    desiredReplicas?: number;
    clients?: number;
    reflectors?: { name: string; clients: number; ready: boolean; draining: boolean; current: boolean }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    /** The free client slots and, with spec.scaling.buffer, the buffer's size and why (issue 15). */
    autoscaling?: AutoscalingStatus;
  };
}

/** `helm install` of the chart into `namespace`, waiting for the operator; the operator's port in the e2e range. */
export interface InstallOptions {
  release?: string;
  namespace?: string;
  set?: string[];
  /** Values files (`helm install -f`): the cluster's `chart` (its image, how pods reach the API server). */
  valuesFiles?: string[];
}

/** The operator's port (/healthz, /readyz, /metrics) as the e2e tests install it, in the e2e range. */
export const OPERATOR_PORT = 30080;

export async function installChart(cluster: Cluster, options: InstallOptions = {}): Promise<void> {
  chartCluster = cluster;
  const sets = [`operator.port=${OPERATOR_PORT}`, ...(options.set ?? [])].flatMap((s) => ['--set', s]);
  await cluster.helm([
    'install', options.release ?? 'rmesh', 'charts/reflector-mesh',
    '--namespace', options.namespace ?? 'rmesh-system', '--create-namespace', ...sets,
    ...(options.valuesFiles ?? []).flatMap((f) => ['-f', f]), '--wait', '--timeout', '300s',
  ]);
}

/** An example mesh from examples/, with spec fields overridden (e.g. ports in the e2e range). */
export function exampleMesh(file: string, spec: Record<string, unknown>): MeshObject {
  const mesh = parse(readFileSync(join(projectRoot, 'examples', file), 'utf8')) as MeshObject;
  mesh.spec = { ...mesh.spec, ...spec };
  return mesh;
}

export async function applyMesh(cluster: Cluster, mesh: MeshObject): Promise<void> {
  await cluster.kubectl(['apply', '-f', '-'], { input: stringify(mesh) });
}

export async function readMesh(cluster: Cluster, name: string, namespace = 'default'): Promise<MeshObject> {
  return (await cluster.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'rmesh.io', version: 'v1alpha1', namespace, plural: 'reflectormeshes', name,
  })) as MeshObject;
}

export async function meshPods(cluster: Cluster, name: string, namespace = 'default'): Promise<V1Pod[]> {
  return (await cluster.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: `rmesh.io/mesh=${name}` })).items;
}

export const podReady = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** What a reflector's GET /v1/status says of its clients (the parts the scenarios look at). */
export interface ReflectorClients {
  draining: boolean;
  clients: { clientId: string; name?: string; state: 'reserved' | 'active' | 'departing' }[];
}

/**
 * GET `path` of the admin API of the reflector at `address`, signed with its mesh's key (what the
 * admin routes of a keyed mesh need, and what the operator sends; no admin token): `meshKeyBytes`, or
 * the key of the mesh with a pod at that address in the cluster the chart was installed into.
 */
export async function reflectorAdminGet<T>(address: string, controlPort: number, path: string, meshKeyBytes?: Buffer): Promise<T> {
  // Looked up each time: a mesh deleted and created again has a new key.
  const key = meshKeyBytes ?? (chartCluster ? await meshKeyForHost(chartCluster, address) : undefined);
  const headers: Record<string, string> = key ? { authorization: signPeerRequest(peerControlKey(key), 'GET', path, '') } : {};
  const res = await fetch(`http://${address}:${controlPort}${path}`, { headers });
  if (!res.ok) throw new Error(`GET ${path} of ${address}:${controlPort}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** GET /v1/status of the reflector at `address` (the mesh's control port). */
export async function reflectorClients(address: string, controlPort: number, meshKeyBytes?: Buffer): Promise<ReflectorClients> {
  return reflectorAdminGet<ReflectorClients>(address, controlPort, '/v1/status', meshKeyBytes);
}

/** The names of the clients each reflector pod serves (active ones), by pod name. */
export async function clientNamesByPod(pods: V1Pod[], controlPort: number, meshKeyBytes?: Buffer): Promise<Map<string, string[]>> {
  const entries = await Promise.all(
    pods.map(async (p) => {
      const { clients } = await reflectorClients(p.status?.hostIP ?? '', controlPort, meshKeyBytes);
      return [p.metadata?.name ?? '', clients.filter((c) => c.state === 'active').map((c) => c.name ?? c.clientId).sort()] as const;
    }),
  );
  return new Map(entries);
}

/**
 * Resolves with the pods once `replicas` reflectors are Ready, each lists every other as its peer
 * (GET /v1/peers on its control port), and the mesh's status is Ready with that many ready replicas.
 */
export function meshConverged(
  cluster: Cluster,
  mesh: { name: string; namespace?: string; controlPort: number; replicas: number },
  timeoutMs = 180_000,
): Promise<V1Pod[]> {
  return waitFor(
    `mesh ${mesh.name}: ${mesh.replicas} reflectors Ready, fully peered, status Ready`,
    async () => {
      // Each miss is thrown, not returned: a timeout then says what was seen last.
      const pods = (await meshPods(cluster, mesh.name, mesh.namespace)).filter((p) => !p.metadata?.deletionTimestamp);
      if (pods.length !== mesh.replicas || !pods.every(podReady)) {
        throw new Error(`pods not terminating: ${pods.map((p) => `${p.metadata?.name}@${p.spec?.nodeName ?? '-'}${podReady(p) ? '' : ' (not Ready)'}`).join(', ') || 'none'}`);
      }
      const addresses = pods.map((p) => p.status?.hostIP ?? '');
      const key = await meshKey(cluster, mesh.name, mesh.namespace);
      for (const address of addresses) {
        const body = await reflectorAdminGet<{ peers: { address: string }[] }>(address, mesh.controlPort, '/v1/peers', key);
        const peers = body.peers.map((p) => p.address).sort();
        if (JSON.stringify(peers) !== JSON.stringify(addresses.filter((a) => a !== address).sort())) throw new Error(`${address}'s peers are ${peers.join(', ') || 'none'}`);
      }
      const status = (await readMesh(cluster, mesh.name, mesh.namespace)).status;
      const ready = status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (!ready || status?.readyReplicas !== mesh.replicas) throw new Error(`status: readyReplicas ${status?.readyReplicas}, conditions ${JSON.stringify(status?.conditions)}`);
      return pods;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * Resolves with the pods and who serves whom once the mesh has converged (see meshConverged) and its
 * `clients` clients are spread evenly — each reflector serving ⌊n/m⌋ or ⌈n/m⌉, all active: the operator
 * has finished rebalancing.
 */
export async function meshBalanced(
  cluster: Cluster,
  mesh: { name: string; namespace?: string; controlPort: number; replicas: number; clients: number },
  timeoutMs = 180_000,
): Promise<{ pods: V1Pod[]; clients: Map<string, string[]> }> {
  const low = Math.floor(mesh.clients / mesh.replicas);
  const high = Math.ceil(mesh.clients / mesh.replicas);
  return waitFor(
    `mesh ${mesh.name}: ${mesh.clients} clients spread over ${mesh.replicas} reflectors`,
    async () => {
      const pods = await meshConverged(cluster, mesh, timeoutMs);
      const clients = await clientNamesByPod(pods, mesh.controlPort, await meshKey(cluster, mesh.name, mesh.namespace));
      const counts = [...clients.values()].map((c) => c.length);
      const total = counts.reduce((a, b) => a + b, 0);
      if (total === mesh.clients && counts.every((c) => c >= low && c <= high)) return { pods, clients };
      throw new Error(`active clients by reflector: ${[...clients].map(([pod, names]) => `${pod} [${names.join(' ')}]`).join(', ')}`);
    },
    { timeoutMs, intervalMs: 500 },
  );
}

export interface RunningClient {
  /** The report, when the client has finished; fails with its stderr when it exits non-zero. */
  report: Promise<ClientReport>;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** Ends the run early (SIGINT): the client stops sending, lingers, and prints its report. */
  stop(): void;
}

/** The cluster the chart was last installed into: where startClient finds a mesh's key. */
let chartCluster: Cluster | undefined;

/**
 * A client token for mesh `name`, minted with the key in the mesh's Secret (spec.auth.meshKeySecretRef,
 * else the operator's `<name>-mesh-key`), as a user allowed to read that Secret would mint it; it names
 * the mesh, as the operator's reflectors ask (RMESH_MESH_NAME).
 */
export async function meshClientToken(cluster: Cluster, name: string, namespace = 'default', subject?: string): Promise<string> {
  return mintClientTokenWithMeshKey(await meshKey(cluster, name, namespace), { ttlSeconds: 86_400, mesh: name, ...(subject ? { subject } : {}) });
}

/** The key in mesh `name`'s Secret (spec.auth.meshKeySecretRef, else the operator's `<name>-mesh-key`). */
export async function meshKey(cluster: Cluster, name: string, namespace = 'default'): Promise<Buffer> {
  const mesh = await readMesh(cluster, name, namespace);
  const ref = (mesh.spec.auth as { meshKeySecretRef?: { name: string; key: string } } | undefined)?.meshKeySecretRef ?? { name: `${name}-mesh-key`, key: 'key' };
  const core = cluster.kc.makeApiClient(CoreV1Api);
  // The operator creates the Secret on its first pass over the mesh.
  const data = await waitFor(
    `Secret ${namespace}/${ref.name} (the mesh key)`,
    async () => (await core.readNamespacedSecret({ name: ref.name, namespace }).catch(() => undefined))?.data?.[ref.key],
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  return parseMeshKeyBase64(Buffer.from(data, 'base64').toString('utf8'), `Secret ${namespace}/${ref.name}`);
}

/** The token for the mesh one of whose reflectors `join` names (the only mesh, or the one with a pod at that host). */
async function clientTokenForJoin(cluster: Cluster, joinList: string, subject?: string): Promise<string> {
  const host = joinList.split(',')[0]!.replace(/:\d+$/, '');
  const mesh = await meshAt(cluster, host);
  return meshClientToken(cluster, mesh.metadata.name, mesh.metadata.namespace ?? 'default', subject);
}

/** The key of the mesh that has a reflector at `host` (the only mesh, or the one with a pod there). */
async function meshKeyForHost(cluster: Cluster, host: string): Promise<Buffer> {
  const mesh = await meshAt(cluster, host);
  return meshKey(cluster, mesh.metadata.name, mesh.metadata.namespace ?? 'default');
}

async function meshAt(cluster: Cluster, host: string): Promise<MeshObject> {
  const { items } = (await cluster.kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: 'rmesh.io', version: 'v1alpha1', plural: 'reflectormeshes' })) as {
    items: MeshObject[];
  };
  let mesh = items.length === 1 ? items[0] : undefined;
  for (const m of items) {
    if (mesh) break;
    const pods = await meshPods(cluster, m.metadata.name, m.metadata.namespace ?? 'default');
    if (pods.some((p) => p.status?.hostIP === host)) mesh = m;
  }
  if (!mesh) throw new Error(`no ReflectorMesh has a reflector at ${host}; pass startClient a token`);
  return mesh;
}

/**
 * Starts `rmesh client` (sendrecv) joined through `join` (HOST:CONTROLPORT,...), its data socket on `bind`
 * (any local address when undefined).
 * It presents `token`, or else one minted from the key of the mesh it joins (see meshClientToken), in
 * RMESH_TOKEN (not on the command line, where `ps` would show it).
 */
export function startClient(options: { join: string; bind: string | undefined; duration: string; bitrate?: string; name?: string; extra?: string[]; token?: string }): RunningClient {
  let child: ChildProcess | undefined;
  let stopped = false;
  let stdout = '';
  let stderr = '';
  const report = (async (): Promise<ClientReport> => {
    const token = options.token ?? (chartCluster ? await clientTokenForJoin(chartCluster, options.join, options.name) : undefined);
    if (stopped) throw new Error(`rmesh client (${options.join}) was stopped before it started`);
    const started = spawn(
      process.execPath,
      [
        join(projectRoot, 'dist/cli/rmesh.js'), 'client', '--join', options.join, ...(options.bind ? ['--bind', options.bind] : []),
        '--bitrate', options.bitrate ?? '500kbps', '--duration', options.duration, '--linger', '1s',
        '--report', 'json', '--no-progress', ...(options.name ? ['--name', options.name] : []), ...(options.extra ?? []),
      ],
      { cwd: projectRoot, env: { PATH: process.env.PATH, ...(token ? { RMESH_TOKEN: token } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    started.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise<ClientReport>((resolve, reject) => {
      started.once('exit', (code, signal) => {
        if (code === 0) {
          try {
            resolve(JSON.parse(stdout) as ClientReport);
          } catch (err) {
            reject(new Error(`rmesh client printed no JSON report: ${stdout.slice(0, 500)}`, { cause: err }));
          }
        } else reject(new Error(`rmesh client (${options.join}) exited ${signal ?? code}: ${stderr.slice(-2000)}`));
      });
    });
  })();
  return {
    report,
    get exited() {
      return child ? child.exitCode !== null || child.signalCode !== null : stopped;
    },
    stop: () => {
      stopped = true;
      child?.kill('SIGINT');
    },
  };
}
