// The scheduler's decision, as a pure function: which node a pending pod may go to, honouring the
// filters reflector placement relies on — node readiness and unschedulable, nodeSelector, required node
// affinity, taints vs tolerations, required pod anti-affinity (and affinity), and host ports (pods on
// the host network). Among the feasible nodes it spreads: fewest pods first, then name.
import type {
  V1LabelSelector,
  V1LabelSelectorRequirement,
  V1Node,
  V1NodeSelectorRequirement,
  V1Pod,
  V1PodAffinityTerm,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';

export type Placement = { node: string } | { unschedulable: string };

export function matchesLabelSelector(selector: V1LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  // A nil selector selects nothing (as the scheduler treats a term without one); an empty one everything.
  if (!selector) return false;
  const l = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (l[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((e) => matchesRequirement(e, l));
}

function matchesRequirement(r: V1LabelSelectorRequirement | V1NodeSelectorRequirement, labels: Record<string, string>): boolean {
  const value = labels[r.key];
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const n = Number(value);
      const bound = Number(values[0]);
      if (value === undefined || Number.isNaN(n) || Number.isNaN(bound)) return false;
      return r.operator === 'Gt' ? n > bound : n < bound;
    }
    default:
      return false;
  }
}

export function nodeIsReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function tolerates(tolerations: V1Toleration[] | undefined, taint: V1Taint): boolean {
  return (tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** Pods that hold a place on their node: bound, not finished (terminating ones still count). */
function occupying(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter((p) => p.spec?.nodeName && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}

function hostPorts(pod: V1Pod): string[] {
  const ports: string[] = [];
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) {
      const host = p.hostPort ?? (pod.spec?.hostNetwork ? p.containerPort : undefined);
      if (host) ports.push(`${p.protocol ?? 'TCP'}/${host}`);
    }
  }
  return ports;
}

function termMatches(term: V1PodAffinityTerm, pod: V1Pod, other: V1Pod): boolean {
  const namespaces = term.namespaces?.length ? term.namespaces : [pod.metadata?.namespace ?? 'default'];
  // A namespaceSelector would need Namespace objects; an empty one means all namespaces.
  const allNamespaces = term.namespaceSelector !== undefined && Object.keys(term.namespaceSelector).length === 0;
  if (!allNamespaces && !namespaces.includes(other.metadata?.namespace ?? 'default')) return false;
  return matchesLabelSelector(term.labelSelector, other.metadata?.labels);
}

/** Why `node` cannot take `pod`, or undefined when it can. */
function rejection(pod: V1Pod, node: V1Node, nodes: Map<string, V1Node>, others: V1Pod[]): string | undefined {
  const labels = node.metadata?.labels ?? {};
  if (!nodeIsReady(node)) return "node(s) weren't ready";
  if (node.spec?.unschedulable) return 'node(s) were unschedulable';
  for (const [key, value] of Object.entries(pod.spec?.nodeSelector ?? {})) {
    if (labels[key] !== value) return "node(s) didn't match Pod's node affinity/selector";
  }
  const required = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (required && !required.nodeSelectorTerms.some((t) => (t.matchExpressions ?? []).every((e) => matchesRequirement(e, labels)))) {
    return "node(s) didn't match Pod's node affinity/selector";
  }
  for (const taint of node.spec?.taints ?? []) {
    if ((taint.effect === 'NoSchedule' || taint.effect === 'NoExecute') && !tolerates(pod.spec?.tolerations, taint)) {
      return `node(s) had untolerated taint {${taint.key}${taint.value ? `: ${taint.value}` : ''}}`;
    }
  }
  const onNode = others.filter((o) => o.spec?.nodeName === node.metadata?.name);
  const wanted = new Set(hostPorts(pod));
  if (onNode.some((o) => hostPorts(o).some((p) => wanted.has(p)))) return "node(s) didn't have free ports for the requested pod ports";

  const sameTopology = (key: string, other: V1Pod): boolean => {
    const otherNode = nodes.get(other.spec?.nodeName ?? '');
    const value = labels[key];
    return value !== undefined && otherNode?.metadata?.labels?.[key] === value;
  };
  for (const term of pod.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (others.some((o) => sameTopology(term.topologyKey, o) && termMatches(term, pod, o))) {
      return "node(s) didn't match pod anti-affinity rules";
    }
  }
  // Symmetry: an existing pod's anti-affinity also keeps matching pods away from it.
  for (const o of others) {
    for (const term of o.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      if (sameTopology(term.topologyKey, o) && termMatches(term, o, pod)) {
        return "node(s) didn't satisfy existing pods anti-affinity rules";
      }
    }
  }
  for (const term of pod.spec?.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (!others.some((o) => sameTopology(term.topologyKey, o) && termMatches(term, pod, o))) {
      return "node(s) didn't match pod affinity rules";
    }
  }
  return undefined;
}

/** Chooses a node for `pod` among `nodes`, given every pod already in the cluster. */
export function choosePlacement(pod: V1Pod, nodes: readonly V1Node[], pods: readonly V1Pod[]): Placement {
  const byName = new Map(nodes.map((n) => [n.metadata?.name ?? '', n]));
  const others = occupying(pods).filter((p) => p.metadata?.uid !== pod.metadata?.uid);
  const reasons = new Map<string, number>();
  const feasible: V1Node[] = [];
  for (const node of nodes) {
    const why = rejection(pod, node, byName, others);
    if (why === undefined) feasible.push(node);
    else reasons.set(why, (reasons.get(why) ?? 0) + 1);
  }
  if (feasible.length === 0) {
    const detail = [...reasons].map(([why, n]) => `${n} ${why}`).sort().join(', ');
    return { unschedulable: `0/${nodes.length} nodes are available${detail ? `: ${detail}` : ''}.` };
  }
  const load = (n: V1Node): number => others.filter((o) => o.spec?.nodeName === n.metadata?.name).length;
  feasible.sort((a, b) => load(a) - load(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  return { node: feasible[0]?.metadata?.name ?? '' };
}
