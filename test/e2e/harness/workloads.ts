// The Deployment and ReplicaSet controllers, reduced to what the e2e tests need so that `helm install`
// of the chart yields a running operator pod: a Deployment gets one ReplicaSet per pod template (named
// <deployment>-<pod-template-hash>, as kube-controller-manager names it, so `kubectl rollout status`
// and `helm --wait` find it), older ReplicaSets are scaled to zero at once (every strategy behaves
// like Recreate), and a ReplicaSet keeps its replica count of pods, replacing failed ones. Both
// report status (replicas, ready, available, updated, observedGeneration, conditions).
import { createHash } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
  type V1OwnerReference,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { describeApiError, isConflict, isNotFound } from './api-errors.js';

const hashLabel = 'pod-template-hash';

/** A short, stable hash of a pod template (not the controller-manager's FNV, but as stable). */
export function templateHash(template: V1PodTemplateSpec | undefined): string {
  return createHash('sha256').update(JSON.stringify(template ?? {})).digest('hex').slice(0, 10);
}

const controllerRef = (owner: { apiVersion: string; kind: string; uid?: string; name?: string }): V1OwnerReference => ({
  apiVersion: owner.apiVersion,
  kind: owner.kind,
  name: owner.name ?? '',
  uid: owner.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

const ownedBy = (uid: string | undefined) => (o: { metadata?: { ownerReferences?: V1OwnerReference[] } }): boolean =>
  (o.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === uid);

const podReady = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const podActive = (p: V1Pod): boolean => !p.metadata?.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded';

const statusPatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class WorkloadControllers {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** One pass over every Deployment and ReplicaSet, given every pod in the cluster. */
  async sync(pods: readonly V1Pod[]): Promise<void> {
    const deployments = (await this.apps.listDeploymentForAllNamespaces()).items;
    let replicaSets = (await this.apps.listReplicaSetForAllNamespaces()).items;
    for (const d of deployments) {
      if (d.metadata?.deletionTimestamp) continue;
      await this.syncDeployment(d, replicaSets.filter(ownedBy(d.metadata?.uid))).catch((err: unknown) =>
        console.warn(`[deployment-controller] ${d.metadata?.namespace}/${d.metadata?.name}: ${describeApiError(err)}`),
      );
    }
    replicaSets = (await this.apps.listReplicaSetForAllNamespaces()).items;
    for (const rs of replicaSets) {
      if (rs.metadata?.deletionTimestamp) continue;
      await this.syncReplicaSet(rs, pods.filter(ownedBy(rs.metadata?.uid))).catch((err: unknown) =>
        console.warn(`[replicaset-controller] ${rs.metadata?.namespace}/${rs.metadata?.name}: ${describeApiError(err)}`),
      );
    }
    for (const d of deployments) {
      if (d.metadata?.deletionTimestamp) continue;
      await this.reportDeployment(d, replicaSets.filter(ownedBy(d.metadata?.uid))).catch((err: unknown) =>
        console.warn(`[deployment-controller] status of ${d.metadata?.name}: ${describeApiError(err)}`),
      );
    }
  }

  private async syncDeployment(d: V1Deployment, owned: V1ReplicaSet[]): Promise<void> {
    const namespace = d.metadata?.namespace ?? 'default';
    const hash = templateHash(d.spec?.template);
    const name = `${d.metadata?.name}-${hash}`;
    const replicas = d.spec?.paused ? undefined : (d.spec?.replicas ?? 1);
    for (const old of owned.filter((rs) => rs.metadata?.name !== name && (rs.spec?.replicas ?? 0) > 0)) {
      await this.apps.patchNamespacedReplicaSetScale(
        { name: old.metadata?.name ?? '', namespace, body: { spec: { replicas: 0 } } },
        statusPatch,
      );
    }
    const current = owned.find((rs) => rs.metadata?.name === name);
    if (replicas === undefined) return;
    if (!current) {
      const template = structuredClone<V1PodTemplateSpec>(d.spec?.template ?? {});
      template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [hashLabel]: hash } };
      try {
        await this.apps.createNamespacedReplicaSet({
          namespace,
          body: {
            metadata: {
              name,
              namespace,
              labels: template.metadata.labels,
              annotations: { 'deployment.kubernetes.io/revision': String(owned.length + 1) },
              ownerReferences: [controllerRef({ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata?.name, uid: d.metadata?.uid })],
            },
            spec: {
              replicas,
              minReadySeconds: d.spec?.minReadySeconds,
              selector: {
                matchLabels: { ...d.spec?.selector.matchLabels, [hashLabel]: hash },
                matchExpressions: d.spec?.selector.matchExpressions,
              },
              template,
            },
          },
        });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    } else if (current.spec?.replicas !== replicas) {
      await this.apps.patchNamespacedReplicaSetScale({ name, namespace, body: { spec: { replicas } } }, statusPatch);
    }
  }

  private async syncReplicaSet(rs: V1ReplicaSet, owned: V1Pod[]): Promise<void> {
    const namespace = rs.metadata?.namespace ?? 'default';
    const desired = rs.spec?.replicas ?? 1;
    // Failed pods are replaced: delete them, they no longer count.
    for (const p of owned.filter((x) => !x.metadata?.deletionTimestamp && x.status?.phase === 'Failed')) {
      await this.deletePod(p);
    }
    const active = owned.filter(podActive);
    for (let i = active.length; i < desired; i++) {
      await this.core.createNamespacedPod({
        namespace,
        body: {
          metadata: {
            generateName: `${rs.metadata?.name}-`,
            namespace,
            labels: rs.spec?.template?.metadata?.labels,
            annotations: rs.spec?.template?.metadata?.annotations,
            ownerReferences: [controllerRef({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata?.name, uid: rs.metadata?.uid })],
          },
          spec: rs.spec?.template?.spec ?? { containers: [] },
        },
      });
    }
    // Too many: not-ready and unscheduled ones go first, as the ReplicaSet controller ranks them.
    const surplus = [...active].sort((a, b) => Number(podReady(a)) - Number(podReady(b)) || Number(Boolean(a.spec?.nodeName)) - Number(Boolean(b.spec?.nodeName)));
    for (const p of surplus.slice(0, Math.max(0, active.length - desired))) await this.deletePod(p);

    const ready = active.filter(podReady).length;
    const status = {
      replicas: active.length,
      fullyLabeledReplicas: active.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata?.generation,
    };
    const old: Partial<NonNullable<V1ReplicaSet['status']>> = rs.status ?? {};
    if (
      old.replicas !== status.replicas ||
      (old.readyReplicas ?? 0) !== ready ||
      (old.availableReplicas ?? 0) !== ready ||
      old.observedGeneration !== status.observedGeneration
    ) {
      await this.apps.patchNamespacedReplicaSetStatus({ name: rs.metadata?.name ?? '', namespace, body: { status } }, statusPatch);
    }
  }

  private async reportDeployment(d: V1Deployment, owned: V1ReplicaSet[]): Promise<void> {
    const hash = templateHash(d.spec?.template);
    const current = owned.find((rs) => rs.metadata?.name === `${d.metadata?.name}-${hash}`);
    const desired = d.spec?.replicas ?? 1;
    const replicas = owned.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
    const available = owned.reduce((n, rs) => n + (rs.status?.availableReplicas ?? 0), 0);
    const ready = owned.reduce((n, rs) => n + (rs.status?.readyReplicas ?? 0), 0);
    const updated = current?.status?.replicas ?? 0;
    const complete = updated === desired && replicas === desired && available === desired;
    const now = new Date().toISOString();
    const keepTime = (type: string, status: string): string => {
      const c = d.status?.conditions?.find((x) => x.type === type);
      return c && c.status === status && c.lastTransitionTime ? new Date(c.lastTransitionTime).toISOString() : now;
    };
    const availableStatus = available >= desired ? 'True' : 'False';
    const status = {
      observedGeneration: d.metadata?.generation,
      replicas,
      updatedReplicas: updated,
      readyReplicas: ready,
      availableReplicas: available,
      unavailableReplicas: Math.max(0, desired - available),
      conditions: [
        {
          type: 'Available',
          status: availableStatus,
          reason: availableStatus === 'True' ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          message: availableStatus === 'True' ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
          lastTransitionTime: keepTime('Available', availableStatus),
          lastUpdateTime: keepTime('Available', availableStatus),
        },
        {
          type: 'Progressing',
          status: 'True',
          reason: complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
          message: `ReplicaSet "${d.metadata?.name}-${hash}" ${complete ? 'has successfully progressed' : 'is progressing'}.`,
          lastTransitionTime: keepTime('Progressing', 'True'),
          lastUpdateTime: now,
        },
      ],
    };
    const old: NonNullable<V1Deployment['status']> = d.status ?? {};
    const same =
      old.observedGeneration === status.observedGeneration &&
      (old.replicas ?? 0) === replicas &&
      (old.updatedReplicas ?? 0) === updated &&
      (old.readyReplicas ?? 0) === ready &&
      (old.availableReplicas ?? 0) === available &&
      old.conditions?.find((c) => c.type === 'Progressing')?.reason === status.conditions[1]?.reason &&
      old.conditions?.find((c) => c.type === 'Available')?.status === availableStatus;
    if (same) return;
    await this.apps.patchNamespacedDeploymentStatus(
      { name: d.metadata?.name ?? '', namespace: d.metadata?.namespace ?? 'default', body: { status } },
      statusPatch,
    );
  }

  private async deletePod(p: V1Pod): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({
        name: p.metadata?.name ?? '',
        namespace: p.metadata?.namespace ?? 'default',
        body: { preconditions: { uid: p.metadata?.uid } },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}
