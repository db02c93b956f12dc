// Scenario: the confused deputy, on a real API server with the chart installed (docs/security.md
// "Secrets through the operator"). Someone allowed to create meshes points a mesh's meshKeySecretRef at
// another team's Secret and names an image of their own: the operator creates no pod, and says why in
// the mesh's status (Degraded/SecretNotAllowed) and in a Warning event. Once the Secret's owner labels it
// rmesh.io/mesh-key=true, the mesh gets its reflectors, with that Secret's key as theirs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, waitFor, type Cluster } from './harness/cluster.js';
import { applyMesh, exampleMesh, installChart, meshPods, readMesh } from './harness/mesh.js';
import { KEY_SET_SECRET_KEY, keySetSecretName } from '../../operator/controller/mesh-key-set-secret.js';
import { parseMeshKeySet } from '../../protocol/security/mesh-key-set.js';

const ports = { data: 30700, control: 30710 };
const KEY = Buffer.alloc(32, 0x5a).toString('base64');

describe('a mesh naming a Secret that did not opt in', () => {
  let cluster: Cluster;
  const name = 'borrow';

  beforeAll(async () => {
    cluster = await startCluster();
    await installChart(cluster);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('gets no pod and says why, until the Secret opts in', async () => {
    await cluster.kubectl(['create', 'secret', 'generic', 'payments-signing', `--from-literal=key=${KEY}`]);
    const mesh = exampleMesh('mesh.yaml', { ports, auth: { meshKeySecretRef: { name: 'payments-signing', key: 'key' } } });
    mesh.metadata.name = name;
    mesh.spec.reflector = { image: 'evil.invalid/steal:1' };
    await applyMesh(cluster, mesh);

    const condition = await waitFor(
      `mesh ${name} Degraded/SecretNotAllowed`,
      async () => (await readMesh(cluster, name)).status?.conditions?.find((c) => c.type === 'Degraded' && c.reason === 'SecretNotAllowed'),
      { timeoutMs: 60_000 },
    );
    expect(condition.message).toMatch(/Secret default\/payments-signing \(spec\.auth\.meshKeySecretRef\) has not opted in.*rmesh\.io\/mesh-key=true/);
    expect(JSON.stringify((await readMesh(cluster, name)).status)).not.toContain(KEY);
    expect(await meshPods(cluster, name)).toEqual([]);
    const events = await cluster.kubectl(['get', 'events', '--field-selector', `involvedObject.name=${name},reason=SecretNotAllowed`, '-o', 'jsonpath={.items[*].type}']);
    expect(events.stdout).toContain('Warning');

    // The owner opts the Secret in: now the mesh may use it (the image here cannot be pulled; the pods exist).
    await cluster.kubectl(['label', 'secret', 'payments-signing', 'rmesh.io/mesh-key=true']);
    const pods = await waitFor(`pods of mesh ${name}`, async () => {
      const p = await meshPods(cluster, name);
      return p.length > 0 ? p : undefined;
    }, { timeoutMs: 60_000 });
    // The pods mount the key set the operator publishes from that Secret (docs/security.md "Rotating the
    // mesh key"), and its current key is the opted-in Secret's.
    const keySet = keySetSecretName(await readMesh(cluster, name));
    const volumes = pods[0]!.spec!.volumes ?? [];
    expect(volumes.map((v) => v.secret?.secretName)).toContain(keySet);
    const published = await cluster.kubectl(['get', 'secret', keySet, '-o', `jsonpath={.data.${KEY_SET_SECRET_KEY}}`]);
    const set = parseMeshKeySet(Buffer.from(published.stdout, 'base64').toString('utf8'), 'the key-set Secret');
    expect(set.current?.toString('base64')).toBe(KEY);
  });
});
