// Builders of observed state for the reconcile tests: a mesh, its pods and what the reflectors report.
import type { ReflectorMesh, ReflectorMeshSpec } from '../../../operator/api/v1alpha1/index.js';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import type { Observed, PodView, ReflectorReport, ReportedClient } from '../../../operator/controller/observed.js';
import { desiredTemplateHash } from '../../../operator/controller/pod-template.js';

export const NOW = Date.parse('2026-01-01T12:00:00Z');
export const IMAGE = 'rmesh:test';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export function mesh(spec: DeepPartial<ReflectorMeshSpec> = { replicas: 3 }, status?: ReflectorMesh['status']): ReflectorMesh {
  const m: ReflectorMesh = {
    apiVersion: 'rmesh.io/v1alpha1',
    kind: 'ReflectorMesh',
    metadata: { name: 'conf', namespace: 'media', uid: 'uid-conf', generation: 1 },
    spec: spec as ReflectorMeshSpec,
  };
  if (status) m.status = status;
  return m;
}

export function hashOf(m: ReflectorMesh): string {
  return desiredTemplateHash(m, resolveSpec(m.spec).spec, IMAGE);
}

let clientSeq = 0;
export function clients(n: number, role: ReportedClient['role'] = 'sendrecv', state: ReportedClient['state'] = 'active'): ReportedClient[] {
  return Array.from({ length: n }, () => ({ clientId: (++clientSeq).toString(16).padStart(12, '0'), role, state }));
}

export function pod(name: string, over: Partial<PodView> = {}): PodView {
  const index = Number(name.replace(/\D/g, '') || '1');
  return {
    name,
    uid: `uid-${name}`,
    phase: 'Running',
    ready: true,
    node: `node-${index}`,
    hostIP: `10.0.0.${index}`,
    terminating: false,
    createdMs: NOW - 60_000 + index,
    ...over,
  };
}

export function report(over: Partial<ReflectorReport> = {}): ReflectorReport {
  return { draining: false, clients: [], peers: [], outboundStreams: 0, outboundBitsPerSecond: 0, ...over };
}

export interface Scene {
  mesh: ReflectorMesh;
  pods?: PodView[];
  reports?: Record<string, ReflectorReport>;
  unreachable?: Record<string, string>;
  drainingSince?: Record<string, number>;
  secretProblem?: string;
  nowMs?: number;
  /** Pods get the current template hash unless they set their own. */
  currentHash?: boolean;
}

export function observed(scene: Scene): Observed {
  const hash = hashOf(scene.mesh);
  const o: Observed = {
    mesh: scene.mesh,
    pods: (scene.pods ?? []).map((p) => ({ templateHash: hash, ...p })),
    reports: new Map(Object.entries(scene.reports ?? {})),
    unreachable: new Map(Object.entries(scene.unreachable ?? {})),
    drainingSince: new Map(Object.entries(scene.drainingSince ?? {})),
    templateHash: hash,
    nowMs: scene.nowMs ?? NOW,
  };
  if (scene.secretProblem) o.secretProblem = scene.secretProblem;
  return o;
}

/** Reports for pods that are fully peered with each other. */
export function peered(names: string[], perPod: Record<string, Partial<ReflectorReport>> = {}): Record<string, ReflectorReport> {
  return Object.fromEntries(names.map((n) => [n, report({ peers: names.filter((o) => o !== n), ...perPod[n] })]));
}
