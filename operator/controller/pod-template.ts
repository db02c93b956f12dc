// The reflector pod a mesh wants: host network, one per node by default, probes on the control port,
// configuration through the reflector's RMESH_* environment. Pure: the same mesh gives the same pod
// and the same template hash, which is how the operator notices that a roll-out is due.
import { createHash } from 'node:crypto';
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { API_VERSION, KIND, LIMIT_DEFAULTS, type ReflectorMesh, type ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import { budgetOf } from '../../model/index.js';
import { LABEL_MESH, LABEL_TEMPLATE_HASH, reflectorLabels } from './labels.js';
import { settingEnv, type SettingName } from '../../protocol/settings.js';
import { pinToNode } from './node-pin.js';
import { KEY_SET_MOUNT_PATH, KEY_SET_SECRET_KEY, keySetSecretName } from './mesh-key-set-secret.js';

/** The pod volume of the key-set Secret. */
const KEY_SET_VOLUME = 'mesh-keys';

export const CONTAINER_NAME = 'reflector';

/** cluster-autoscaler's per-pod opt-in to evicting a pod it would otherwise keep (see buildReflectorPod). */
export const SAFE_TO_EVICT_ANNOTATION = 'cluster-autoscaler.kubernetes.io/safe-to-evict';

/**
 * The image's runtime user (Dockerfile `USER 1000:1000`, the node image's `node` user). Numeric so the
 * kubelet can enforce runAsNonRoot without looking into the image.
 */
export const REFLECTOR_UID = 1000;
export const REFLECTOR_GID = 1000;

/**
 * Locked down (docs/security.md): non-root, no privilege escalation, every capability dropped, the
 * runtime's default seccomp profile, and a read-only root filesystem — the reflector writes no file
 * (checked with strace: it only reads its code and binds sockets), so it needs no writable volume
 * either. Its default ports (5004/5005, 7400) are above 1024, so it needs no NET_BIND_SERVICE.
 */
const POD_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  runAsUser: REFLECTOR_UID,
  runAsGroup: REFLECTOR_GID,
  seccompProfile: { type: 'RuntimeDefault' },
};
const CONTAINER_SECURITY_CONTEXT = {
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export interface PodTemplateOptions {
  /** Image used when the mesh names none (the operator's own image). */
  defaultImage: string;
  /** Admission limits derived from the plan; not part of the template hash (see below). */
  limits?: { maxClientsPerReflector?: number; maxClients?: number };
  /** ExternalIP mode: the node the operator chose and the address the reflector advertises there. */
  node?: { name: string; address: string };
}

/** The variable of a reflector setting (protocol/settings.ts): the operator sets no variable the reflector does not read. */
function env(setting: SettingName, value: string | number): V1EnvVar {
  return { name: settingEnv(setting), value: String(value) };
}

function ms(value: number): string {
  return `${value}ms`;
}

/** The environment the spec determines (every RMESH_* flag of `rmesh reflector` the mesh sets). */
function specEnv(mesh: ReflectorMesh, spec: ReflectorMeshSpec): V1EnvVar[] {
  const vars: V1EnvVar[] = [
    { name: settingEnv('id'), valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: settingEnv('address'), valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
    env('dataPort', spec.ports.data),
    env('controlPort', spec.ports.control),
    env('keepaliveInterval', ms(spec.timeouts.keepaliveIntervalMs)),
    env('peerTimeout', ms(spec.timeouts.peerTimeoutMs)),
    env('clientIdleTimeout', ms(spec.timeouts.clientIdleTimeoutMs)),
    env('logLevel', spec.reflector.logLevel),
    env('drainTimeout', `${spec.reflector.shutdownDrainSeconds}s`),
    env('dataPlane', spec.reflector.dataPlane),
    // Client tokens must name this mesh (`rmesh token --mesh NAME`): meshes that share a key (one
    // Secret named by several meshes) do not take each other's tokens.
    env('meshName', mesh.metadata.name),
    // Ready only once wired into the mesh: until the first peer list (phases/wire.ts sends one to a pod
    // that says it waits), a new pod would count as serving, and take clients, as a mesh of its own.
    env('awaitPeerList', 'true'),
  ];
  // A boolean flag from the environment is on when the variable is set at all, so RTP off means unset.
  if (spec.stream.rtp) vars.push(env('rtp', 'true'));
  if (spec.capacity.maxClientsPerReflector !== undefined) vars.push(env('maxClientsPerReflector', spec.capacity.maxClientsPerReflector));
  if (spec.capacity.maxClients !== undefined) vars.push(env('maxClients', spec.capacity.maxClients));
  vars.push(env('budgetStreams', budgetOf(spec.stream.bitrateMbps, spec.capacity.outboundMbps, spec.capacity.headroom).budgetStreams));
  const ref = spec.auth?.adminTokenSecretRef;
  if (ref) vars.push({ name: settingEnv('adminToken'), valueFrom: { secretKeyRef: { name: ref.name, key: ref.key } } });
  // The mesh keys (docs/security.md): peer datagram tags, peer requests and client tokens derive from
  // them. A file from the operator's key-set Secret, not an env var: a Secret volume updates in place
  // and the reflector reads the file every second, so a key rotation reaches it without a restart.
  vars.push(env('meshKeyFile', `${KEY_SET_MOUNT_PATH}/${KEY_SET_SECRET_KEY}`));
  vars.push(...rateLimitEnv(spec));
  return vars;
}

/**
 * The per-client rate limit from spec.limits, defaulting from the stream: clientRateFactor x the stream's
 * bitrate and packet rate (docs/security.md, Limits). Undefined when both limits are off.
 */
export function clientRateLimit(spec: ReflectorMeshSpec): { bitsPerSecond: number; packetsPerSecond: number; burstMs: number } | undefined {
  const limits = spec.limits;
  const factor = limits?.clientRateFactor ?? LIMIT_DEFAULTS.clientRateFactor;
  const bitsPerSecond = Math.ceil((limits?.clientBitrateMbps ?? factor * spec.stream.bitrateMbps) * 1e6);
  const packetsPerSecond = limits?.clientPacketsPerSecond ?? Math.ceil((factor * spec.stream.bitrateMbps * 1e6) / (8 * spec.stream.packetSizeBytes));
  if (bitsPerSecond === 0 && packetsPerSecond === 0) return undefined;
  return { bitsPerSecond, packetsPerSecond, burstMs: limits?.clientBurstMs ?? LIMIT_DEFAULTS.clientBurstMs };
}

function rateLimitEnv(spec: ReflectorMeshSpec): V1EnvVar[] {
  const vars: V1EnvVar[] = [];
  const limit = clientRateLimit(spec);
  if (limit) {
    vars.push(env('maxClientBitrate', limit.bitsPerSecond), env('maxClientPps', limit.packetsPerSecond), env('maxClientBurst', ms(limit.burstMs)));
  }
  // The control API limit: the reflector's default unless the mesh says otherwise.
  if (spec.limits?.apiRequestsPerSecond !== undefined) vars.push(env('apiRateLimit', spec.limits.apiRequestsPerSecond));
  if (spec.limits?.apiBurst !== undefined) vars.push(env('apiRateBurst', spec.limits.apiBurst));
  return vars;
}

/** Plan-derived limits, for the limits the spec leaves unset. */
function limitEnv(spec: ReflectorMeshSpec, limits: PodTemplateOptions['limits']): V1EnvVar[] {
  const vars: V1EnvVar[] = [];
  if (spec.capacity.maxClientsPerReflector === undefined && limits?.maxClientsPerReflector !== undefined) {
    vars.push(env('maxClientsPerReflector', limits.maxClientsPerReflector));
  }
  if (spec.capacity.maxClients === undefined && limits?.maxClients !== undefined) {
    vars.push(env('maxClients', limits.maxClients));
  }
  return vars;
}

/** Quantities as the strings the pod API takes (the mesh allows `cpu: 1` as well as `cpu: "1"`). */
function quantities(resources: { requests?: Record<string, string | number>; limits?: Record<string, string | number> }) {
  const strings = (map?: Record<string, string | number>) =>
    map === undefined ? undefined : Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)]));
  const out: { requests?: Record<string, string>; limits?: Record<string, string> } = {};
  const requests = strings(resources.requests);
  const limits = strings(resources.limits);
  if (requests) out.requests = requests;
  if (limits) out.limits = limits;
  return out;
}

/** Taints the node lifecycle controller puts on a node it lost: NotReady, and unreachable. */
export const NODE_LOSS_TAINTS = ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable'] as const;

/**
 * The spec's tolerations, plus the node-loss ones with tolerationSeconds from the spec (instead of the
 * 300 s the DefaultTolerationSeconds admission adds), so a reflector on a lost node is evicted and
 * replaced within that bound. A toleration the spec sets for those keys itself is left as it is.
 */
function tolerationsOf(placement: ReflectorMeshSpec['placement']) {
  const own = (placement.tolerations ?? []).map((t) => ({ ...t }));
  const covered = (key: string) => own.some((t) => t.key === key || (t.key === undefined && t.operator === 'Exists'));
  const loss = NODE_LOSS_TAINTS.filter((key) => !covered(key)).map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: placement.nodeLossToleranceSeconds }));
  return [...own, ...loss];
}

/** The pod without the plan-derived limits: what the template hash covers. */
function podShape(mesh: ReflectorMesh, spec: ReflectorMeshSpec, defaultImage: string): V1Pod {
  const name = mesh.metadata.name;
  const { ports, placement, reflector } = spec;
  const containerPorts = [
    { name: 'data', containerPort: ports.data, hostPort: ports.data, protocol: 'UDP' },
    ...(spec.stream.rtp ? [{ name: 'rtcp', containerPort: ports.data + 1, hostPort: ports.data + 1, protocol: 'UDP' }] : []),
    { name: 'control', containerPort: ports.control, hostPort: ports.control, protocol: 'TCP' },
  ];
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: ports.control, scheme: 'HTTP' },
    periodSeconds,
    failureThreshold,
    timeoutSeconds: 2,
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: mesh.metadata.namespace,
      labels: { ...(reflector.podLabels ?? {}), ...reflectorLabels(name) },
      ...(reflector.podAnnotations ? { annotations: { ...reflector.podAnnotations } } : {}),
    },
    spec: {
      hostNetwork: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      restartPolicy: 'Always',
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      securityContext: structuredClone(POD_SECURITY_CONTEXT),
      terminationGracePeriodSeconds: reflector.terminationGracePeriodSeconds,
      ...(placement.nodeSelector ? { nodeSelector: { ...placement.nodeSelector } } : {}),
      tolerations: tolerationsOf(placement),
      ...(placement.onePerNode
        ? {
            affinity: {
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { [LABEL_MESH]: name } } },
                ],
              },
            },
          }
        : {}),
      ...(reflector.priorityClassName ? { priorityClassName: reflector.priorityClassName } : {}),
      ...(reflector.imagePullSecrets ? { imagePullSecrets: reflector.imagePullSecrets.map((s) => ({ name: s.name })) } : {}),
      volumes: [{ name: KEY_SET_VOLUME, secret: { secretName: keySetSecretName(mesh) } }],
      containers: [
        {
          name: CONTAINER_NAME,
          image: reflector.image ?? defaultImage,
          imagePullPolicy: reflector.imagePullPolicy,
          args: ['reflector'],
          env: specEnv(mesh, spec),
          volumeMounts: [{ name: KEY_SET_VOLUME, mountPath: KEY_SET_MOUNT_PATH, readOnly: true }],
          ports: containerPorts,
          readinessProbe: probe('/readyz', 2, 2),
          livenessProbe: probe('/healthz', 5, 3),
          resources: quantities(reflector.resources),
          securityContext: structuredClone(CONTAINER_SECURITY_CONTEXT),
        },
      ],
    },
  };
}

/** A short stable hash of a pod shape (like a ReplicaSet's pod-template-hash). */
export function templateHash(pod: V1Pod): string {
  return createHash('sha256').update(JSON.stringify(pod)).digest('hex').slice(0, 10);
}

/** The hash pods of this mesh should carry now. */
export function desiredTemplateHash(mesh: ReflectorMesh, spec: ReflectorMeshSpec, defaultImage: string): string {
  return templateHash(podShape(mesh, spec, defaultImage));
}

/**
 * The pod to create for a mesh. The plan-derived admission limits are left out of the hash: they
 * change with the mesh's size, and rolling every reflector on every scale would move every client.
 * New pods get the current limits; explicit limits in the spec are part of the hash.
 */
export function buildReflectorPod(mesh: ReflectorMesh, spec: ReflectorMeshSpec, options: PodTemplateOptions): V1Pod {
  const pod = podShape(mesh, spec, options.defaultImage);
  const hash = templateHash(pod);
  const metadata = pod.metadata!;
  const container = pod.spec!.containers[0]!;
  container.env = [...(container.env ?? []), ...limitEnv(spec, options.limits)];
  if (options.node) {
    // On the node the operator chose, which knows the node's external address: pinned by affinity,
    // bound by the scheduler (node-pin.ts). Outside the template hash, as the node differs per pod.
    pinToNode(pod, options.node.name);
    container.env.push(env('advertiseAddress', options.node.address));
  }
  // Lets cluster-autoscaler drain a node running a reflector (it keeps pods that no ReplicaSet,
  // StatefulSet or DaemonSet owns unless they say so); the mesh's PodDisruptionBudget still takes one
  // reflector at a time. Outside the template hash, so upgrading the operator rolls no mesh; the
  // spec's own podAnnotations win (`"false"` keeps the autoscaler away).
  metadata.annotations = { [SAFE_TO_EVICT_ANNOTATION]: 'true', ...metadata.annotations };
  metadata.generateName = `${mesh.metadata.name.slice(0, 57)}-`;
  metadata.labels = { ...metadata.labels, [LABEL_TEMPLATE_HASH]: hash };
  metadata.ownerReferences = [
    { apiVersion: API_VERSION, kind: KIND, name: mesh.metadata.name, uid: mesh.metadata.uid, controller: true, blockOwnerDeletion: true },
  ];
  return pod;
}
