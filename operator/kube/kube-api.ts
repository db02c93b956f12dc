// The Kubernetes calls the operator makes, behind a narrow interface: create and delete pods, write
// a mesh's status, read a Secret, write a PodDisruptionBudget, record an Event. The real one uses @kubernetes/client-node; the unit
// tests use an in-memory one.
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type V1Pod,
  type V1PodDisruptionBudget,
  type V1Secret,
} from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type ReflectorMesh, type ReflectorMeshStatus } from '../api/v1alpha1/index.js';

/** What the operator reads of a Secret: its data (decoded), its labels and its owners' uids. */
export interface SecretView {
  data: Record<string, string>;
  labels: Record<string, string>;
  ownerUids: string[];
}

export interface KubeApi {
  createPod(namespace: string, pod: V1Pod): Promise<V1Pod>;
  /** Deletes a pod if it is still the one with this uid; resolves to the pod as deleted, or undefined if gone. */
  deletePod(namespace: string, name: string, uid: string): Promise<V1Pod | undefined>;
  /** Replaces the status through the status subresource (a merge patch of the whole status). */
  patchMeshStatus(namespace: string, name: string, status: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined): Promise<ReflectorMesh>;
  /** The Secret's data, decoded, with what says who may use it; undefined when it does not exist. */
  readSecret(namespace: string, name: string): Promise<SecretView | undefined>;
  /**
   * Creates a Secret and resolves to it as stored; undefined (not an error) when one of that name already
   * exists, which is left as it is.
   */
  createSecret(namespace: string, secret: V1Secret): Promise<V1Secret | undefined>;
  /** Creates a Secret or replaces the one of that name (the operator's own key-set Secret: a rotation step); resolves to it as stored. */
  writeSecret(namespace: string, secret: V1Secret): Promise<V1Secret>;
  createEvent(namespace: string, event: CoreV1Event): Promise<void>;
  /**
   * Creates a PodDisruptionBudget, or replaces it when `budget` carries a resourceVersion (409 when
   * that is no longer the stored one). Resolves to the budget as stored.
   */
  writeDisruptionBudget(namespace: string, budget: V1PodDisruptionBudget): Promise<V1PodDisruptionBudget>;
}

/** What the operator reads of a Secret, its data decoded. */
export function secretView(secret: V1Secret): SecretView {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
  return { data, labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) };
}

/** The HTTP status of a client-node error (ApiException.code), if any. */
export function httpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A JSON merge patch that turns `previous` into `next` at the top level of the status: fields that
 * disappeared are set to null, every other field is replaced whole (arrays cannot be merged).
 */
export function statusMergePatch(next: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...next };
  for (const key of Object.keys(previous ?? {})) if (!(key in next)) patch[key] = null;
  return { status: patch };
}

export function clientNodeKubeApi(kubeConfig: KubeConfig): KubeApi {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const policy = kubeConfig.makeApiClient(PolicyV1Api);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    createPod: (namespace, pod) => core.createNamespacedPod({ namespace, body: pod }),
    async deletePod(namespace, name, uid) {
      try {
        return await core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } });
      } catch (err) {
        // 404: already gone; 409: a different pod of that name now, not ours to delete.
        if (httpStatusOf(err) === 404 || httpStatusOf(err) === 409) return undefined;
        throw err;
      }
    },
    async patchMeshStatus(namespace, name, status, previous) {
      return (await custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: statusMergePatch(status, previous) },
        mergePatch,
      )) as ReflectorMesh;
    },
    async readSecret(namespace, name) {
      try {
        return secretView(await core.readNamespacedSecret({ namespace, name }));
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async createSecret(namespace, secret) {
      try {
        return await core.createNamespacedSecret({ namespace, body: secret });
      } catch (err) {
        if (httpStatusOf(err) === 409) return undefined;
        throw err;
      }
    },
    async writeSecret(namespace, secret) {
      try {
        return await core.createNamespacedSecret({ namespace, body: secret });
      } catch (err) {
        if (httpStatusOf(err) !== 409) throw err;
        return core.replaceNamespacedSecret({ namespace, name: secret.metadata!.name!, body: secret });
      }
    },
    async createEvent(namespace, event) {
      await core.createNamespacedEvent({ namespace, body: event });
    },
    async writeDisruptionBudget(namespace, budget) {
      if (budget.metadata?.resourceVersion === undefined) return policy.createNamespacedPodDisruptionBudget({ namespace, body: budget });
      return policy.replaceNamespacedPodDisruptionBudget({ namespace, name: budget.metadata.name!, body: budget });
    },
  };
}
