// Pod Security on a real cluster: reflector pods use the host network and host ports, which the
// `baseline` level refuses. A mesh in a namespace enforcing `baseline` gets no pod: its status says
// Degraded with reason PodCreateRefused, and a Warning event carries the API server's own message
// (operator/controller/failures.ts). Relabelled `privileged` (what NOTES.txt says to do), the same mesh
// becomes Ready with no change of its own, and Degraded clears.
import { describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { waitFor } from './harness/cluster.js';
import { applyMesh, exampleMesh, meshConverged, meshPods, readMesh } from './harness/mesh.js';
import { meshScenario } from './harness/scenario.js';

const namespace = 'rmesh-e2e-psa';
const name = 'guarded';
const controlPort = 7800;

describe('a real cluster: Pod Security admission refuses the reflectors, the mesh says why', () => {
  const scenario = meshScenario();

  it('baseline: Degraded/PodCreateRefused with the API\'s message in a Warning event; privileged: Ready', async () => {
    const { cluster } = scenario;
    await cluster.kubectl(['create', 'namespace', namespace]);
    try {
      await cluster.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=baseline']);
      const mesh = exampleMesh('mesh.yaml', { ports: { data: 5404, control: controlPort } });
      mesh.metadata = { name, namespace };
      await applyMesh(cluster, mesh);

      const degraded = await waitFor('the mesh Degraded with reason PodCreateRefused', async () => {
        const condition = (await readMesh(cluster, name, namespace)).status?.conditions?.find((c) => c.type === 'Degraded');
        return condition?.status === 'True' && condition.reason === 'PodCreateRefused' ? condition : undefined;
      }, { timeoutMs: 120_000 });
      console.log(`[real-admission] Degraded: ${degraded.message ?? ''}`);
      // The API server's own words: which level, and what in the pod breaks it.
      expect(degraded.message).toContain('violates PodSecurity "baseline');
      expect(degraded.message).toMatch(/host namespaces|hostNetwork/);
      // And what to do about it.
      expect(degraded.message).toContain('pod-security.kubernetes.io/enforce=privileged');
      const ready = (await readMesh(cluster, name, namespace)).status?.conditions?.find((c) => c.type === 'Ready');
      expect(ready?.status).toBe('False');
      expect(await meshPods(cluster, name, namespace)).toEqual([]);

      const core = cluster.kc.makeApiClient(CoreV1Api);
      const event = await waitFor('a Warning event PodCreateRefused on the mesh', async () => {
        const events = (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` })).items;
        return events.find((e) => e.type === 'Warning' && e.reason === 'PodCreateRefused');
      }, { timeoutMs: 60_000 });
      console.log(`[real-admission] event: ${event.message ?? ''} (count ${event.count ?? event.series?.count ?? 1})`);
      expect(event.involvedObject.kind).toBe('ReflectorMesh');
      expect(event.message).toContain('violates PodSecurity "baseline');

      // What NOTES.txt tells the user to do; the mesh recovers with no change of its own.
      await cluster.kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=privileged', '--overwrite']);
      await meshConverged(cluster, { name, namespace, controlPort, replicas: 2 }, 240_000);
      const recovered = await waitFor('Degraded cleared', async () => {
        const condition = (await readMesh(cluster, name, namespace)).status?.conditions?.find((c) => c.type === 'Degraded');
        return condition?.status === 'False' ? condition : undefined;
      }, { timeoutMs: 60_000 });
      console.log(`[real-admission] recovered: Degraded=${recovered.status} (${recovered.reason ?? ''})`);
    } finally {
      // Also on a kubeconfig's cluster, whose cleanup only knows the default namespace.
      await cluster.kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
    }
  }, 600_000);
});
