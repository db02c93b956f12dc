// The parts of kube-controller-manager the e2e tests need, since the local control plane runs none:
// the ServiceAccount controller (a `default` service account in every namespace, without which the
// ServiceAccount admission plugin rejects pods) and the garbage collector for pods and ReplicaSets (one
// whose owners are all gone is deleted, in the background, as with `propagationPolicy: Background`).
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
  type V1OwnerReference,
  type V1Pod,
} from '@kubernetes/client-node';
import { describeApiError, isConflict, isNotFound } from './api-errors.js';

export class ServiceAccountController {
  private readonly core: CoreV1Api;
  private readonly done = new Set<string>();

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async sync(): Promise<void> {
    const namespaces = await this.core.listNamespace();
    for (const ns of namespaces.items) {
      const name = ns.metadata?.name;
      if (!name || this.done.has(name) || ns.status?.phase === 'Terminating') continue;
      try {
        await this.core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default', namespace: name } } });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
      this.done.add(name);
    }
  }
}

export class GarbageCollector {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly objects: KubernetesObjectApi;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  /** Deletes the ReplicaSets, then the pods, whose owners are all gone (absent, or with another uid). */
  async sync(pods: readonly V1Pod[]): Promise<void> {
    const replicaSets = (await this.apps.listReplicaSetForAllNamespaces()).items;
    await this.collect(replicaSets, (name, namespace, body) => this.apps.deleteNamespacedReplicaSet({ name, namespace, body }));
    await this.collect(pods, (name, namespace, body) => this.core.deleteNamespacedPod({ name, namespace, body }));
  }

  private async collect(
    dependents: readonly KubernetesObject[],
    remove: (name: string, namespace: string, body: { propagationPolicy: string; preconditions: { uid?: string } }) => Promise<unknown>,
  ): Promise<void> {
    const present = new Map<string, Promise<boolean>>();
    for (const pod of dependents) {
      const owners = pod.metadata?.ownerReferences ?? [];
      if (owners.length === 0 || pod.metadata?.deletionTimestamp) continue;
      const namespace = pod.metadata?.namespace ?? 'default';
      let anyPresent = false;
      for (const owner of owners) {
        const key = `${owner.apiVersion}/${owner.kind}/${namespace}/${owner.name}/${owner.uid}`;
        let check = present.get(key);
        if (!check) {
          check = this.ownerExists(owner, namespace);
          present.set(key, check);
        }
        if (await check) {
          anyPresent = true;
          break;
        }
      }
      if (anyPresent) continue;
      try {
        await remove(pod.metadata?.name ?? '', namespace, { propagationPolicy: 'Background', preconditions: { uid: pod.metadata?.uid } });
      } catch (err) {
        if (!isNotFound(err) && !isConflict(err)) console.warn(`[garbage-collector] ${namespace}/${pod.metadata?.name}: ${describeApiError(err)}`);
      }
    }
  }

  private async ownerExists(owner: V1OwnerReference, namespace: string): Promise<boolean> {
    try {
      // Namespaced or cluster-scoped: the client finds out from discovery and drops the namespace if needed.
      const object = await this.objects.read({ apiVersion: owner.apiVersion, kind: owner.kind, metadata: { name: owner.name, namespace } });
      return object.metadata?.uid === owner.uid;
    } catch (err) {
      if (isNotFound(err)) return false;
      // Unknown kind (e.g. its CRD deleted) means the owner is gone too; any other error: keep the pod.
      if (err instanceof Error && /Unrecognized API version and kind|resource .* not found/i.test(err.message)) return false;
      return true;
    }
  }
}
