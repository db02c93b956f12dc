// The mesh's capacity as one reflector sees it, for the autoscaling metrics (docs/metrics.md):
// free client slots and capacity utilisation, from the capacity model (model) and the outbound
// budget the operator passes (--budget-streams). A reflector knows the number of reflectors m (its
// peers + itself) and every reflector's client count, not the roles of its peers' clients, so it counts
// every client as sendrecv: the heaviest role, which never overstates the free slots.
import { maxClients, peakOutboundStreams } from '../model/index.js';

export interface MeshCapacity {
  /** More clients the mesh can admit within the budget and the --max-clients limit. */
  freeClientSlots: number;
  /** The capacity model's peak outbound streams of a reflector over the budget (1 = full). */
  utilisation: number;
}

/** For a budget of budgetStreams >= 1 streams, m >= 1 reflectors and n clients; maxMeshClients 0 = no limit. */
export function meshCapacity(budgetStreams: number, reflectors: number, clients: number, maxMeshClients: number): MeshCapacity {
  let most = maxClients(reflectors, budgetStreams);
  if (maxMeshClients > 0) most = Math.min(most, maxMeshClients);
  return { freeClientSlots: Math.max(0, most - clients), utilisation: peakOutboundStreams(reflectors, clients) / budgetStreams };
}
