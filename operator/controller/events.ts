// Events on a mesh, recorded for humans (`kubectl describe rmesh`). The decisions emit events only on
// transitions, and this recorder also drops a repeat of the same event within a window, so a retried
// pass does not flood the namespace.
import type { CoreV1Event } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ReflectorMesh } from '../api/v1alpha1/index.js';
import type { KubeApi } from '../kube/kube-api.js';
import type { MeshEvent } from './decide.js';

export const COMPONENT = 'reflector-mesh-operator';
const REPEAT_WINDOW_MS = 5 * 60_000;

export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly kube: KubeApi,
    private readonly host: string,
    private readonly now: () => number = Date.now,
  ) {}

  async record(mesh: ReflectorMesh, event: MeshEvent): Promise<void> {
    const key = `${mesh.metadata.uid}|${event.type}|${event.reason}|${event.message}`;
    const t = this.now();
    const last = this.recent.get(key);
    if (last !== undefined && t - last < REPEAT_WINDOW_MS) return;
    this.recent.set(key, t);
    if (this.recent.size > 10_000) {
      for (const [k, at] of this.recent) if (t - at >= REPEAT_WINDOW_MS) this.recent.delete(k);
    }
    const time = new Date(t);
    const body: CoreV1Event = {
      metadata: { generateName: `${mesh.metadata.name}.`, namespace: mesh.metadata.namespace },
      involvedObject: {
        apiVersion: API_VERSION,
        kind: KIND,
        name: mesh.metadata.name,
        namespace: mesh.metadata.namespace,
        uid: mesh.metadata.uid,
        ...(mesh.metadata.resourceVersion ? { resourceVersion: mesh.metadata.resourceVersion } : {}),
      },
      type: event.type,
      reason: event.reason,
      message: event.message.slice(0, 1024),
      source: { component: COMPONENT, host: this.host },
      reportingComponent: COMPONENT,
      reportingInstance: this.host,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    await this.kube.createEvent(mesh.metadata.namespace, body);
  }
}
