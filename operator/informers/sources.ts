// List-and-watch sources backed by @kubernetes/client-node: ReflectorMeshes and reflector pods, in
// all namespaces or one. Lists are paged; watches ask for bookmarks and a server-side timeout so a
// healthy watch is renewed regularly and a dead connection cannot hide for long.
import { CoreV1Api, CustomObjectsApi, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
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

export function podSource(kubeConfig: KubeConfig, labelSelector: string, namespace?: string): ListWatchSource<V1Pod> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
  return {
    name: namespace ? `pods/${namespace}` : 'pods',
    async list(): Promise<ListResult<V1Pod>> {
      const items: V1Pod[] = [];
      let cont: string | undefined;
      let resourceVersion: string;
      do {
        const page = namespace
          ? await api.listNamespacedPod({ namespace, labelSelector, limit: PAGE, _continue: cont })
          : await api.listPodForAllNamespaces({ labelSelector, limit: PAGE, _continue: cont });
        items.push(...page.items);
        resourceVersion = page.metadata?.resourceVersion ?? '';
        cont = page.metadata?._continue || undefined;
      } while (cont);
      return { items, resourceVersion };
    },
    watch: (rv, onEvent, onDone) => startWatch(kubeConfig, path, { labelSelector }, rv, onEvent, onDone),
  };
}
