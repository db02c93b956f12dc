// The reflector pod a mesh asks for: host network, one per node, probes, RMESH_* environment, owner
// reference, labels; and a template hash that changes with the spec but not with plan-derived limits.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { buildReflectorPod, desiredTemplateHash, REFLECTOR_GID, REFLECTOR_UID } from '../../../operator/controller/pod-template.js';
import { mesh } from './fixtures.js';

function podFor(spec: Parameters<typeof mesh>[0], limits?: { maxClients?: number }) {
  const m = mesh(spec);
  return buildReflectorPod(m, resolveSpec(m.spec).spec, { defaultImage: 'rmesh:default', ...(limits ? { limits } : {}) });
}

function envOf(pod: ReturnType<typeof podFor>): Record<string, unknown> {
  return Object.fromEntries(pod.spec!.containers[0]!.env!.map((e) => [e.name, e.value ?? e.valueFrom]));
}

describe('reflector pod', () => {
  it('runs on the host network, one per node, as `rmesh reflector`', () => {
    const pod = podFor({ replicas: 2 });
    expect(pod.spec).toMatchObject({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet', terminationGracePeriodSeconds: 60, automountServiceAccountToken: false });
    expect(pod.spec!.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'rmesh.io/mesh': 'conf' } } },
    ]);
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe('rmesh:default');
    expect(c.args).toEqual(['reflector']);
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 7400, scheme: 'HTTP' });
    expect(c.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 7400, scheme: 'HTTP' });
    expect(c.ports).toEqual([
      { name: 'data', containerPort: 5004, hostPort: 5004, protocol: 'UDP' },
      { name: 'rtcp', containerPort: 5005, hostPort: 5005, protocol: 'UDP' },
      { name: 'control', containerPort: 7400, hostPort: 7400, protocol: 'TCP' },
    ]);
  });

  it('configures the reflector through its environment', () => {
    const env = envOf(podFor({ replicas: 2, timeouts: { keepaliveIntervalMs: 500, peerTimeoutMs: 3000 } }, { maxClients: 40 }));
    expect(env).toMatchObject({
      RMESH_ID: { fieldRef: { fieldPath: 'metadata.name' } },
      RMESH_ADDRESS: { fieldRef: { fieldPath: 'status.hostIP' } },
      RMESH_DATA_PORT: '5004',
      RMESH_CONTROL_PORT: '7400',
      RMESH_RTP: 'true',
      RMESH_KEEPALIVE_INTERVAL: '500ms',
      RMESH_PEER_TIMEOUT: '3000ms',
      RMESH_CLIENT_IDLE_TIMEOUT: '10000ms',
      RMESH_MAX_CLIENTS: '40',
      RMESH_LOG_LEVEL: 'info',
    });
    expect(env.RMESH_ADMIN_TOKEN).toBeUndefined();
  });

  it('gives the reflector its mesh keys as a file from the operator\'s key-set Secret (a rotation needs no restart), whichever Secret holds the key', () => {
    for (const pod of [podFor({ replicas: 1 }), podFor({ replicas: 1, auth: { meshKeySecretRef: { name: 'shared-key', key: 'k' } } })]) {
      const env = envOf(pod);
      expect(env.RMESH_MESH_KEY_FILE).toBe('/etc/rmesh/mesh-keys/keys');
      expect(env.RMESH_MESH_KEY).toBeUndefined();
      expect(env.RMESH_OPEN_MESH).toBeUndefined();
      expect(pod.spec!.volumes).toEqual([{ name: 'mesh-keys', secret: { secretName: 'conf-mesh-keys' } }]);
      expect(pod.spec!.containers[0]!.volumeMounts).toEqual([{ name: 'mesh-keys', mountPath: '/etc/rmesh/mesh-keys', readOnly: true }]);
    }
  });

  it('leaves RMESH_RTP unset when RTP is off (a boolean flag is on when its variable is set)', () => {
    const pod = podFor({ replicas: 1, stream: { rtp: false } });
    expect(envOf(pod).RMESH_RTP).toBeUndefined();
    expect(pod.spec!.containers[0]!.ports!.map((p) => p.name)).toEqual(['data', 'control']);
  });

  it('carries the mesh\'s placement and pod settings', () => {
    const pod = podFor({
      replicas: 1,
      placement: { onePerNode: false, nodeSelector: { media: 'yes' }, tolerations: [{ key: 'media', operator: 'Exists', effect: 'NoSchedule' }] },
      reflector: { image: 'rmesh:1.2', imagePullPolicy: 'Always', priorityClassName: 'media', resources: { requests: { cpu: 1, memory: '256Mi' } }, podLabels: { team: 'av' } },
    });
    expect(pod.spec!.affinity).toBeUndefined();
    expect(pod.spec!.nodeSelector).toEqual({ media: 'yes' });
    expect(pod.spec!.tolerations![0]).toEqual({ key: 'media', operator: 'Exists', effect: 'NoSchedule' });
    expect(pod.spec!.priorityClassName).toBe('media');
    expect(pod.spec!.containers[0]).toMatchObject({ image: 'rmesh:1.2', imagePullPolicy: 'Always', resources: { requests: { cpu: '1', memory: '256Mi' } } });
    expect(pod.metadata!.labels).toMatchObject({
      team: 'av',
      'app.kubernetes.io/name': 'reflector-mesh',
      'app.kubernetes.io/instance': 'conf',
      'app.kubernetes.io/component': 'reflector',
      'app.kubernetes.io/managed-by': 'reflector-mesh-operator',
      'rmesh.io/mesh': 'conf',
    });
  });

  it('hashes the template: stable, changed by the image, not by the plan\'s limits', () => {
    const a = podFor({ replicas: 1 }, { maxClients: 10 });
    const b = podFor({ replicas: 1 }, { maxClients: 99 });
    const c = podFor({ replicas: 1, reflector: { image: 'rmesh:2' } });
    const hash = (p: typeof a) => p.metadata!.labels!['rmesh.io/template-hash'];
    expect(hash(a)).toBe(hash(b));
    expect(hash(a)).not.toBe(hash(c));
    const m = mesh({ replicas: 1 });
    expect(desiredTemplateHash(m, resolveSpec(m.spec).spec, 'rmesh:default')).toBe(hash(a));
    // Scaling does not roll the mesh out.
    expect(hash(podFor({ replicas: 5 }))).toBe(hash(a));
  });

  it('is locked down: non-root with the image\'s user, read-only root, no privileges, no capabilities, RuntimeDefault seccomp', () => {
    for (const pod of [podFor({ replicas: 1 }), podFor({ replicas: 3, stream: { rtp: false }, reflector: { image: 'rmesh:2' } })]) {
      expect(pod.spec!.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: REFLECTOR_UID,
        runAsGroup: REFLECTOR_GID,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      const c = pod.spec!.containers[0]!;
      expect(c.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.securityContext!.capabilities!.add).toBeUndefined();
      expect(c.securityContext!.runAsUser ?? pod.spec!.securityContext!.runAsUser).not.toBe(0);
      // The reflector writes no file (docs/security.md), so nothing writable is mounted: only its key set, read-only.
      expect(pod.spec!.volumes!.every((v) => v.secret !== undefined)).toBe(true);
      expect(c.volumeMounts!.every((m) => m.readOnly === true)).toBe(true);
    }
  });

  it('runs as the Dockerfile\'s runtime user', () => {
    const dockerfile = readFileSync(new URL('../../../Dockerfile', import.meta.url), 'utf8');
    const user = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].at(-1)?.[1];
    expect(user).toBe(`${REFLECTOR_UID}:${REFLECTOR_GID}`);
  });

  it('binds only ports above 1024 by default, so no NET_BIND_SERVICE is needed', () => {
    const pod = podFor({ replicas: 1, stream: { rtp: true } });
    const ports = pod.spec!.containers[0]!.ports!.map((p) => p.containerPort);
    expect(ports.length).toBe(3);
    for (const port of ports) expect(port).toBeGreaterThan(1024);
  });
});

describe('node loss and drain time from the spec', () => {
  it('tolerates a lost node for spec.placement.nodeLossToleranceSeconds (default 30), not the cluster\'s 300', () => {
    const tolerations = podFor({ replicas: 1 }).spec!.tolerations;
    expect(tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
    ]);
    expect(podFor({ replicas: 1, placement: { nodeLossToleranceSeconds: 90 } }).spec!.tolerations!.map((t) => t.tolerationSeconds)).toEqual([90, 90]);
  });

  it('keeps a toleration the spec sets for those taints itself', () => {
    const own = { key: 'node.kubernetes.io/unreachable', operator: 'Exists' as const, effect: 'NoExecute' as const, tolerationSeconds: 600 };
    const tolerations = podFor({ replicas: 1, placement: { tolerations: [own] } }).spec!.tolerations!;
    expect(tolerations).toContainEqual(own);
    expect(tolerations.filter((t) => t.key === 'node.kubernetes.io/unreachable')).toHaveLength(1);
    expect(tolerations.find((t) => t.key === 'node.kubernetes.io/not-ready')?.tolerationSeconds).toBe(30);
  });

  it('gives the reflector its SIGTERM drain time from spec.reflector.shutdownDrainSeconds', () => {
    expect(envOf(podFor({ replicas: 1 })).RMESH_DRAIN_TIMEOUT).toBe('30s');
    const pod = podFor({ replicas: 1, reflector: { shutdownDrainSeconds: 100, terminationGracePeriodSeconds: 120 } });
    expect(envOf(pod).RMESH_DRAIN_TIMEOUT).toBe('100s');
    expect(pod.spec!.terminationGracePeriodSeconds).toBe(120);
  });

  it('refuses a grace period that does not exceed the drain by the margin (the CEL rule, and again on the resolved spec)', () => {
    expect(resolveSpec({ replicas: 1, reflector: { shutdownDrainSeconds: 100 } }).errors.join()).toMatch(/terminationGracePeriodSeconds must exceed reflector.shutdownDrainSeconds by more than 5 s/);
    expect(resolveSpec({ replicas: 1, reflector: { terminationGracePeriodSeconds: 35 } }).errors).toHaveLength(1);
    expect(resolveSpec({ replicas: 1, reflector: { terminationGracePeriodSeconds: 36 } }).errors).toEqual([]);
  });
});
