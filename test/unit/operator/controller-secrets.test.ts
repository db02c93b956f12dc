// The controller and Secrets, with an in-memory cluster (controller-setup.ts): the mesh key Secret it
// creates, names and rotates, and the Secrets it refuses to carry for a mesh (confused deputy).
import { meshKeyId, meshKeySetIds, parseMeshKeySet } from '../../../protocol/security/mesh-key-set.js';
import { describe, expect, it } from 'vitest';
import { optIn, published, setup } from './controller-setup.js';

describe('mesh key Secret', () => {
  it('creates <mesh>-mesh-key once (32 random bytes, base64, owned by the mesh) and never overwrites it', async () => {
    const c = setup({ replicas: 1 });
    await c.pass();
    expect(c.kube.createdSecrets).toHaveLength(1);
    const secret = c.kube.createdSecrets[0]!;
    expect(secret.metadata).toMatchObject({ name: 'conf-mesh-key', namespace: 'media' });
    expect(secret.metadata!.ownerReferences).toEqual([expect.objectContaining({ kind: 'ReflectorMesh', name: 'conf', uid: c.mesh().metadata.uid, controller: true })]);
    const key = c.kube.secrets.get('media/conf-mesh-key')!.key!;
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    // What the pods mount: the operator's key-set Secret, holding that key alone.
    expect(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set').current).toEqual(Buffer.from(key, 'base64'));
    c.kube.runPods();
    await c.pass();
    await c.pass();
    expect(c.kube.createdSecrets).toHaveLength(1);
    expect(c.kube.secrets.get('media/conf-mesh-key')!.key).toBe(key);
    // Admin calls are signed with that key (a keyed mesh's admin routes need it), no admin token set.
    expect([...c.reflectors.meshKeys]).toEqual([key]);
  });

  it('uses a named Secret without creating one, and reports it missing or too short', async () => {
    const c = setup({ replicas: 1, auth: { meshKeySecretRef: { name: 'my-key', key: 'k' } } });
    await c.pass();
    expect(c.kube.createdSecrets).toEqual([]);
    const missing = c.mesh().status!.conditions!.find((x) => x.type === 'Degraded');
    expect(missing).toMatchObject({ status: 'True', reason: 'SecretMissing' });
    expect(missing!.message).toMatch(/my-key.*meshKeySecretRef.*does not exist/);
    c.kube.secrets.set('media/my-key', { k: Buffer.alloc(8).toString('base64') });
    optIn(c, 'media/my-key', 'mesh-key');
    await c.pass();
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!.message).toMatch(/at least 32 bytes/);
    c.kube.secrets.set('media/my-key', { k: Buffer.alloc(32, 9).toString('base64') });
    c.kube.runPods();
    await c.pass();
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')?.reason).not.toBe('SecretMissing');
    expect(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set').current).toEqual(Buffer.alloc(32, 9));
  });

  it('rotates the key in three steps, each once every reflector holds the one before, on a new key in a named Secret', async () => {
    const c = setup({ replicas: 2, auth: { meshKeySecretRef: { name: 'my-key', key: 'k' } } });
    c.mesh().metadata.annotations = { 'rmesh.io/mesh-key-overlap-seconds': '0' };
    const [K0, K1] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    c.kube.secrets.set('media/my-key', { k: K0.toString('base64') });
    optIn(c, 'media/my-key', 'mesh-key');
    await c.pass();
    c.kube.runPods();
    await c.pass();
    const published = () => meshKeySetIds(parseMeshKeySet(c.kube.secrets.get('media/conf-mesh-keys')!.keys!, 'key-set'));
    const [id0, id1] = [meshKeyId(K0), meshKeyId(K1)];
    expect(published()).toEqual({ current: id0, accepted: [] });

    c.kube.secrets.set('media/my-key', { k: K1.toString('base64') });
    const lagging = [...c.reflectors.state.keys()][0]!;
    c.reflectors.staleKeys.set(lagging, { current: id0, accepted: [] }); // its volume not updated yet
    await c.pass();
    expect(published()).toEqual({ current: id0, accepted: [id1] });
    await c.pass();
    await c.pass();
    expect(published()).toEqual({ current: id0, accepted: [id1] }); // waits for the laggard
    c.reflectors.staleKeys.delete(lagging);
    await c.pass();
    expect(published()).toEqual({ current: id1, accepted: [id0] });
    await c.pass();
    expect(published()).toEqual({ current: id1, accepted: [] });
    await c.pass();
    expect(published()).toEqual({ current: id1, accepted: [] });
    expect(c.kube.events.filter((e) => e.reason === 'MeshKeyRotation').map((e) => e.message!.slice(0, 11))).toEqual(['step 1 of 3', 'step 2 of 3', 'step 3 of 3']);
    expect(c.kube.pods.size).toBe(2); // no pod replaced: the volume carries every step
  });

  it('makes a new generated key when asked by the rotate annotation, once per value', async () => {
    const c = setup({ replicas: 1 });
    await c.pass();
    const first = c.kube.secrets.get('media/conf-mesh-key')!.key!;
    c.mesh().metadata.annotations = { 'rmesh.io/rotate-mesh-key': '2026-12-06' };
    await c.pass();
    const second = c.kube.secrets.get('media/conf-mesh-key')!.key!;
    expect(second).not.toBe(first);
    expect(Buffer.from(second, 'base64')).toHaveLength(32);
    expect(published(c)).toEqual({ current: meshKeyId(Buffer.from(first, 'base64')), accepted: [meshKeyId(Buffer.from(second, 'base64'))] });
    await c.pass();
    expect(c.kube.secrets.get('media/conf-mesh-key')!.key).toBe(second);
    expect(c.kube.events.map((e) => e.reason)).toContain('MeshKeyGenerated');
  });
});

describe('Secrets through the operator (confused deputy)', () => {
  // Whoever may create a mesh names the Secrets and the image; the victim's Secrets did not opt in.
  const VICTIM_KEY = Buffer.alloc(32, 0x5a).toString('base64');

  it('creates no pod carrying a mesh key Secret that did not opt in, says why, and goes on once it does', async () => {
    const c = setup({ replicas: 2, auth: { meshKeySecretRef: { name: 'payments-signing', key: 'key' } }, reflector: { image: 'evil.example/steal:1' } });
    c.kube.secrets.set('media/payments-signing', { key: VICTIM_KEY });
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect(c.kube.createdSecrets).toEqual([]);
    const degraded = c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!;
    expect(degraded).toMatchObject({ status: 'True', reason: 'SecretNotAllowed' });
    expect(degraded.message).toMatch(/Secret media\/payments-signing \(spec\.auth\.meshKeySecretRef\) has not opted in.*kubectl -n media label secret payments-signing rmesh\.io\/mesh-key=true/);
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Progressing')).toMatchObject({ status: 'False', reason: 'SecretNotAllowed' });
    expect(c.kube.events.map((e) => [e.type, e.reason])).toContainEqual(['Warning', 'SecretNotAllowed']);
    // The status never shows anything of the Secret's content.
    expect(JSON.stringify(c.mesh().status)).not.toContain(VICTIM_KEY);
    // Nor is it copied into the key-set Secret the pods mount (the rotation's output).
    expect(c.kube.secrets.has('media/conf-mesh-keys')).toBe(false);
    optIn(c, 'media/payments-signing', 'mesh-key');
    await c.pass();
    expect(c.kube.pods.size).toBe(2);
  });

  it('neither sends an admin token Secret that did not opt in to the reflectors nor puts it in pods', async () => {
    const c = setup({ replicas: 1, auth: { adminTokenSecretRef: { name: 'db-password', key: 'password' } } });
    c.kube.secrets.set('media/db-password', { password: 'hunter2' });
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect([...c.reflectors.tokens]).not.toContain('hunter2');
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')!.message).toMatch(/db-password \(spec\.auth\.adminTokenSecretRef\).*rmesh\.io\/admin-token=true/);
    // A label for the other purpose is not enough.
    optIn(c, 'media/db-password', 'mesh-key');
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
  });

  it('takes the key it generated for this mesh only: not another mesh\'s, not a same-named Secret it did not make', async () => {
    const c = setup({ replicas: 1, auth: { meshKeySecretRef: { name: 'other-mesh-key', key: 'key' } } });
    c.kube.secrets.set('media/other-mesh-key', { key: VICTIM_KEY });
    c.kube.secretMeta.set('media/other-mesh-key', { labels: { 'app.kubernetes.io/managed-by': 'reflector-mesh-operator' }, ownerUids: ['uid-of-mesh-other'] });
    await c.pass();
    expect(c.kube.pods.size).toBe(0);
    expect(c.mesh().status!.conditions!.find((x) => x.type === 'Degraded')?.reason).toBe('SecretNotAllowed');

    // No ref: the generated name conf-mesh-key, but a Secret of that name exists that the operator did not make.
    const d = setup({ replicas: 1 });
    d.kube.secrets.set('media/conf-mesh-key', { key: VICTIM_KEY });
    await d.pass();
    expect(d.kube.pods.size).toBe(0);
    expect(d.mesh().status!.conditions!.find((x) => x.type === 'Degraded')?.reason).toBe('SecretNotAllowed');
  });
});

describe('Secrets from the caches (informers/secret-cache.ts)', () => {
  it('reads no Secret from the API once the caches hold them; one they do not hold (opted out) is asked of the API and refused', async () => {
    const c = setup({ replicas: 1, auth: { adminTokenSecretRef: { name: 'tok', key: 'token' } } });
    c.kube.secrets.set('media/tok', { token: 'admin-token' });
    optIn(c, 'media/tok', 'admin-token');
    let reads: string[] = [];
    const real = c.kube.readSecret.bind(c.kube);
    c.kube.readSecret = (namespace, name) => {
      reads.push(name);
      return real(namespace, name);
    };
    await c.pass();
    // The generated key and the key set did not exist: asked of the API once, then created.
    expect(reads.sort()).toEqual(['conf-mesh-key', 'conf-mesh-keys']);
    c.kube.runPods();
    reads = [];
    await c.pass();
    await c.pass();
    expect(reads).toEqual([]);
    expect([...c.reflectors.tokens]).toContain('admin-token');
    // The label removed: the watch drops it from the cache; the API's answer says why it is not used.
    c.kube.secretMeta.set('media/tok', { labels: {}, ownerUids: [] });
    await c.pass();
    expect(reads).toEqual(['tok']);
    expect(c.kube.events.map((e) => e.reason)).toContain('SecretNotAllowed');
  });
});
