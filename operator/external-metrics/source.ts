// Where the external metrics API reads its values: the meshes' status, as the leader wrote it
// (status.autoscaling.freeClientSlots, status.plan), listed from the Kubernetes API on each request. So
// every replica answers the same, standbys too (the Service may route the aggregator to any of them, and
// only the leader runs informers), and a value is never fresher or older than the mesh's status.
import type { KubeConfig } from '@kubernetes/client-node';
import { resolveSpec } from '../api/v1alpha1/index.js';
import { meshSource } from '../informers/sources.js';
import { meshCapacity } from '../mesh-metrics.js';
import type { MeshCapacityRow } from './api.js';

export function meshCapacityRows(kc: KubeConfig): (namespace: string) => Promise<MeshCapacityRow[]> {
  return async (namespace) => {
    const { items } = await meshSource(kc, namespace).list();
    return items.map((mesh) => {
      const { spec, errors } = resolveSpec(mesh.spec);
      return { name: mesh.metadata.name, capacity: errors.length > 0 ? undefined : meshCapacity(spec, mesh.status) };
    });
  };
}
