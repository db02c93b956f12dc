// Watching a mesh size itself (test/e2e/real-autoscaling.test.ts): a sampler that reads the mesh's
// pods and status every second for as long as the scenario runs (samples.ts reads them), and a watcher
// that times one scale-up, from the join that used up the buffer to the new reflector serving.
import { CoreV1Api } from '@kubernetes/client-node';
import { waitFor, type Cluster } from './cluster.js';
import { meshKey, meshPods, podReady, readMesh, reflectorAdminGet } from './mesh.js';
import type { MeshSample } from './samples.js';

export interface MeshSampler {
  readonly samples: MeshSample[];
  /** Reads that failed (the sample is then missing), with their time. */
  readonly errors: string[];
  /** Stops sampling once the read under way has finished. */
  stop(): Promise<void>;
}

/** Reads mesh `name`'s pods and status every `intervalMs` (a read that takes longer delays the next). */
export function sampleMesh(cluster: Cluster, name: string, intervalMs = 1000): MeshSampler {
  const samples: MeshSample[] = [];
  const errors: string[] = [];
  let running = true;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        const [pods, mesh] = await Promise.all([meshPods(cluster, name), readMesh(cluster, name)]);
        samples.push({
          atMs: started,
          pods: pods.filter((p) => !p.metadata?.deletionTimestamp).map((p) => ({ name: p.metadata?.name ?? '', ready: podReady(p) })),
          desiredReplicas: mesh.status?.desiredReplicas,
          reflectors: (mesh.status?.reflectors ?? []).map((r) => ({ name: r.name, clients: r.clients, draining: r.draining })),
        });
      } catch (err) {
        errors.push(`${new Date(started).toISOString()}: ${err instanceof Error ? err.message : String(err)}`);
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, started + intervalMs - Date.now()));
      });
    }
  })();
  return {
    samples,
    errors,
    stop: async () => {
      running = false;
      wake?.();
      await loop;
    },
  };
}

/** The stages of one scale-up, each in ms after the join that used up the buffer. */
export interface ServeTiming {
  /** The new reflector's pod. */
  pod: string;
  /** status.desiredReplicas first seen above the size before (the pod's time when the status came later). */
  decidedMs: number;
  /** The new pod first seen. */
  createdMs: number;
  /** The new pod first seen Ready (its readiness probe passed: it serves its control and data ports). */
  readyMs: number;
  /** Ready, and it and every other reflector list each other as peers: a client joining it is heard by all. */
  servingMs: number;
}

/**
 * Waits for mesh `mesh.name` to grow beyond the pods named in `before` and times the stages of that
 * growth from `fromMs` (when the join that used up the buffer completed), polling every 200 ms.
 */
export async function timeToServe(
  cluster: Cluster,
  mesh: { name: string; controlPort: number },
  before: readonly string[],
  fromMs: number,
  timeoutMs = 180_000,
): Promise<ServeTiming> {
  const key = await meshKey(cluster, mesh.name);
  const seen: Partial<Omit<ServeTiming, 'pod'>> = {};
  const mark = (stage: keyof typeof seen) => (seen[stage] ??= Date.now() - fromMs);
  const peersOf = async (address: string) =>
    (await reflectorAdminGet<{ peers: { address: string }[] }>(address, mesh.controlPort, '/v1/peers', key)).peers.map((p) => p.address).sort();
  return waitFor(
    `mesh ${mesh.name}: a reflector beyond ${before.join(', ')} serving`,
    async () => {
      const [status, all] = await Promise.all([readMesh(cluster, mesh.name).then((m) => m.status), meshPods(cluster, mesh.name)]);
      if ((status?.desiredReplicas ?? 0) > before.length) mark('decidedMs');
      const pods = all.filter((p) => !p.metadata?.deletionTimestamp);
      const added = pods.find((p) => !before.includes(p.metadata?.name ?? ''));
      if (!added) return undefined;
      mark('createdMs');
      if (!podReady(added)) return undefined;
      mark('readyMs');
      const address = added.status?.hostIP ?? '';
      const others = pods.filter((p) => p !== added).map((p) => p.status?.hostIP ?? '').sort();
      if (JSON.stringify(await peersOf(address)) !== JSON.stringify(others)) return undefined;
      for (const other of others) if (!(await peersOf(other)).includes(address)) return undefined;
      mark('servingMs');
      return { pod: added.metadata?.name ?? '', decidedMs: seen.decidedMs ?? seen.createdMs!, createdMs: seen.createdMs!, readyMs: seen.readyMs!, servingMs: seen.servingMs! };
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** The mesh's events (reason, type, message), as `kubectl get events` lists them. */
export async function meshEvents(cluster: Cluster, name: string, namespace = 'default'): Promise<{ reason: string; type: string; message: string }[]> {
  const { items } = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return items.map((e) => ({ reason: e.reason ?? '', type: e.type ?? '', message: e.message ?? '' }));
}
