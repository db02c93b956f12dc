// List-and-watch sources backed by @kubernetes/client-node: ReflectorMeshes, reflector pods and the
// meshes' PodDisruptionBudgets and the Secrets the operator reads (by label), in all namespaces or one,
// and the cluster's nodes. Lists are paged; watches ask for bookmarks and a server-side timeout so a
// healthy watch is renewed regularly and a dead connection cannot hide for long.
import { CoreV1Api, CustomObjectsApi, PolicyV1Api, Watch, type KubeConfig, type V1Node, type V1Pod, type V1PodDisruptionBudget, type V1Secret } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type ReflectorMesh } from '../api/v1alpha1/index.js';
import type { ListResult, ListWatchSource, WatchEvent, WatchHandle } from './informer.js';

const PAGE = 500;

/** A server-side watch timeout between 4 and 5 minutes, spread so watches do not renew in step. */
function watchTimeoutSeconds(): number {
  return 240 + Math.floor(Math.random() * 60);
}

async function startWatch<T>(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  resourceVersion: string,
  onEvent: (event: WatchEvent<T>) => void,
  onDone: (err: unknown) => void,
): Promise<WatchHandle> {
  const watch = new Watch(kubeConfig);
  const controller = await watch.watch(
    path,
    { ...query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds() },
    (type: string, object: unknown) => onEvent({ type: type as WatchEvent<T>['type'], object: object as T }),
    onDone,
  );
  return { abort: () => controller.abort() };
}

export function meshSource(kubeConfig: KubeConfig, namespace?: string): ListWatchSource<ReflectorMesh> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const path = namespace
    ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`
    : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
  return {
    name: namespace ? `${PLURAL}/${namespace}` : PLURAL,
    async list(): Promise<ListResult<ReflectorMesh>> {
      const items: ReflectorMesh[] = [];
      let cont: string | undefined;
      let resourceVersion: string;
      do {
        const page = (namespace
          ? await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, limit: PAGE, _continue: cont })
          : await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, limit: PAGE, _continue: cont })) as {
          items: ReflectorMesh[];
          metadata?: { resourceVersion?: string; continue?: string };
        };
        items.push(...page.items);
        resourceVersion = page.metadata?.resourceVersion ?? '';
        cont = page.metadata?.continue || undefined;
      } while (cont);
      return { items, resourceVersion };
    },
    watch: (rv, onEvent, onDone) => startWatch(kubeConfig, path, {}, rv, onEvent, onDone),
  };
}

/** One page of a list call, as client-node returns it. */
interface Page<T> {
  items: T[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

/** A source over a typed client-node list call, paged, with a watch on `path` and the same selector. */
function pagedSource<T>(
  kubeConfig: KubeConfig,
  name: string,
  path: string,
  labelSelector: string | undefined,
  listPage: (args: { labelSelector?: string; limit: number; _continue?: string }) => Promise<Page<T>>,
): ListWatchSource<T> {
  const selector = labelSelector ? { labelSelector } : {};
  return {
    name,
    async list(): Promise<ListResult<T>> {
      const items: T[] = [];
      let cont: string | undefined;
      let resourceVersion: string;
      do {
        const page = await listPage({ ...selector, limit: PAGE, ...(cont ? { _continue: cont } : {}) });
        items.push(...page.items);
        resourceVersion = page.metadata?.resourceVersion ?? '';
        cont = page.metadata?._continue || undefined;
      } while (cont);
      return { items, resourceVersion };
    },
    watch: (rv, onEvent, onDone) => startWatch(kubeConfig, path, selector, rv, onEvent, onDone),
  };
}

export function podSource(kubeConfig: KubeConfig, labelSelector: string, namespace?: string): ListWatchSource<V1Pod> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
  return pagedSource(kubeConfig, namespace ? `pods/${namespace}` : 'pods', path, labelSelector, (args) =>
    namespace ? api.listNamespacedPod({ namespace, ...args }) : api.listPodForAllNamespaces(args),
  );
}

/** Every node (cluster-scoped): ExternalIP placement reads their addresses, readiness and taints. */
export function nodeSource(kubeConfig: KubeConfig): ListWatchSource<V1Node> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  return pagedSource(kubeConfig, 'nodes', '/api/v1/nodes', undefined, (args) => api.listNode(args));
}

/** The PodDisruptionBudgets the operator made (its labels), in all namespaces or one. */
export function budgetSource(kubeConfig: KubeConfig, labelSelector: string, namespace?: string): ListWatchSource<V1PodDisruptionBudget> {
  const api = kubeConfig.makeApiClient(PolicyV1Api);
  const path = namespace ? `/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets` : '/apis/policy/v1/poddisruptionbudgets';
  return pagedSource(kubeConfig, namespace ? `poddisruptionbudgets/${namespace}` : 'poddisruptionbudgets', path, labelSelector, (args) =>
    namespace ? api.listNamespacedPodDisruptionBudget({ namespace, ...args }) : api.listPodDisruptionBudgetForAllNamespaces(args),
  );
}

/** The Secrets of one label selector (secret-cache.ts), in all namespaces or one. */
export function secretSource(kubeConfig: KubeConfig, labelSelector: string, namespace?: string): ListWatchSource<V1Secret> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const path = namespace ? `/api/v1/namespaces/${namespace}/secrets` : '/api/v1/secrets';
  return pagedSource(kubeConfig, `secrets[${labelSelector}]${namespace ? `/${namespace}` : ''}`, path, labelSelector, (args) =>
    namespace ? api.listNamespacedSecret({ namespace, ...args }) : api.listSecretForAllNamespaces(args),
  );
}
