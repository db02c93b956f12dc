// A container's environment and command line as the kubelet resolves them: env and envFrom with plain
// values, fieldRef (downward API), secretKeyRef and configMapKeyRef, then $(VAR) expansion in values,
// command and args. Missing references are errors (the kubelet's CreateContainerConfigError).
import type { V1ConfigMap, V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';

/** Reads the objects env may refer to; undefined when the object does not exist. */
export interface EnvSources {
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
}

export class ContainerConfigError extends Error {}

/** The values the downward API gives, for a pod running on a node at `hostIP` on the host network. */
function fieldValue(pod: V1Pod, path: string, hostIP: string): string {
  const meta = pod.metadata ?? {};
  const indexed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (indexed) {
    const map = indexed[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[indexed[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? 'default';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? 'default';
    case 'status.hostIP':
    case 'status.hostIPs':
    case 'status.podIP':
    case 'status.podIPs':
      // Pods of the simulator share their node's network: the pod IP is the node's address.
      return hostIP;
    default:
      throw new ContainerConfigError(`fieldRef ${path} is not supported by the e2e kubelet simulator`);
  }
}

/** Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, anything else stays as is. */
export function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && vars.has(name) ? (vars.get(name) ?? '') : whole;
  });
}

function decode(secret: V1Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  if (b64 !== undefined) return Buffer.from(b64, 'base64').toString('utf8');
  return secret.stringData?.[key];
}

/** The container's environment variables, in order, with every reference resolved. */
export async function resolveEnv(pod: V1Pod, container: V1Container, hostIP: string, sources: EnvSources): Promise<Map<string, string>> {
  const namespace = pod.metadata?.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const from of container.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.secretRef) {
      const secret = await sources.secret(namespace, from.secretRef.name ?? '');
      if (!secret) {
        if (from.secretRef.optional) continue;
        throw new ContainerConfigError(`secret "${from.secretRef.name}" not found`);
      }
      for (const key of Object.keys(secret.data ?? {})) vars.set(prefix + key, decode(secret, key) ?? '');
    }
    if (from.configMapRef) {
      const map = await sources.configMap(namespace, from.configMapRef.name ?? '');
      if (!map) {
        if (from.configMapRef.optional) continue;
        throw new ContainerConfigError(`configmap "${from.configMapRef.name}" not found`);
      }
      for (const [key, value] of Object.entries(map.data ?? {})) vars.set(prefix + key, value);
    }
  }
  for (const env of container.env ?? []) {
    vars.set(env.name, await resolveOne(pod, env, hostIP, namespace, vars, sources));
  }
  return vars;
}

async function resolveOne(
  pod: V1Pod,
  env: NonNullable<V1Container['env']>[number],
  hostIP: string,
  namespace: string,
  vars: ReadonlyMap<string, string>,
  sources: EnvSources,
): Promise<string> {
  if (env.value !== undefined) return expand(env.value, vars);
  const from = env.valueFrom;
  if (!from) return '';
  if (from.fieldRef) return fieldValue(pod, from.fieldRef.fieldPath, hostIP);
  if (from.secretKeyRef) {
    const ref = from.secretKeyRef;
    const secret = await sources.secret(namespace, ref.name ?? '');
    const value = secret ? decode(secret, ref.key) : undefined;
    if (value !== undefined) return value;
    if (ref.optional) return '';
    throw new ContainerConfigError(
      secret ? `couldn't find key ${ref.key} in Secret ${namespace}/${ref.name}` : `secret "${ref.name}" not found`,
    );
  }
  if (from.configMapKeyRef) {
    const ref = from.configMapKeyRef;
    const map = await sources.configMap(namespace, ref.name ?? '');
    const value = map?.data?.[ref.key];
    if (value !== undefined) return value;
    if (ref.optional) return '';
    throw new ContainerConfigError(
      map ? `couldn't find key ${ref.key} in ConfigMap ${namespace}/${ref.name}` : `configmap "${ref.name}" not found`,
    );
  }
  throw new ContainerConfigError(`env ${env.name}: resourceFieldRef is not supported by the e2e kubelet simulator`);
}

/**
 * The argv of a container: its command (or the image's entrypoint) and args, $(VAR)-expanded, with
 * the first word mapped through `commands` (e.g. `rmesh` → `node dist/cli/rmesh.js`).
 */
export function containerArgv(
  container: V1Container,
  vars: ReadonlyMap<string, string>,
  entrypoint: readonly string[],
  commands: Readonly<Record<string, readonly string[]>>,
): string[] {
  const words = [...(container.command?.length ? container.command : entrypoint), ...(container.args ?? [])].map((w) =>
    expand(w, vars),
  );
  const [first, ...rest] = words;
  if (first === undefined) throw new ContainerConfigError(`container ${container.name} has no command and the image no entrypoint`);
  const mapped = commands[first];
  return mapped ? [...mapped, ...rest] : words;
}
