// The Kubernetes external metrics API (external.metrics.k8s.io/v1beta1) as the operator serves it, pure:
// the discovery documents the aggregator and the HPA controller read, the label selectors of metric
// requests, quantities, the ExternalMetricValueList answer and the metav1.Status of errors (which the
// HPA shows in its conditions, so each says what was wrong).
import type { MeshCapacity } from '../mesh-metrics.js';

export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
export const GROUP_VERSION = `${GROUP}/${VERSION}`;

/** The metrics served, each from one field of the capacity values, as a Kubernetes quantity. */
export const METRICS = {
  rmesh_mesh_free_client_slots: (c: MeshCapacity): string | undefined => integerQuantity(c.freeClientSlots),
  rmesh_mesh_capacity_utilisation: (c: MeshCapacity): string | undefined => (c.utilisation === undefined ? undefined : milliQuantity(c.utilisation)),
} as const;
export type MetricName = keyof typeof METRICS;

export function isMetricName(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/** A namespace name (DNS label): anything else, such as a decoded "a/../b", is refused. */
export function isNamespaceName(name: string): boolean {
  return name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name);
}

export function integerQuantity(n: number): string | undefined {
  return Number.isFinite(n) ? String(Math.round(n)) : undefined;
}

/** A fraction as milli-units ("750m"); whole numbers without the suffix, as Kubernetes prints them. */
export function milliQuantity(x: number): string | undefined {
  if (!Number.isFinite(x)) return undefined;
  const milli = Math.round(x * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

export const groupDiscovery = {
  kind: 'APIGroup',
  apiVersion: 'v1',
  name: GROUP,
  versions: [{ groupVersion: GROUP_VERSION, version: VERSION }],
  preferredVersion: { groupVersion: GROUP_VERSION, version: VERSION },
};

export const groupListDiscovery = { kind: 'APIGroupList', apiVersion: 'v1', groups: [groupDiscovery] };

/** External metrics are namespaced; the HPA only gets them. */
export const resourceListDiscovery = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: GROUP_VERSION,
  resources: Object.keys(METRICS).map((name) => ({ name, singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] })),
};

export interface StatusError {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  code: number;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  413: 'RequestEntityTooLarge', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable',
};

export function statusError(code: number, message: string): StatusError {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: REASONS[code] ?? 'Unknown', code };
}

/** One requirement of a label selector (the set-based grammar of Kubernetes, without numeric operators). */
export interface Requirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | '!';
  values: string[];
}

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Parses a labelSelector; throws an Error naming the part it could not read. */
export function parseLabelSelector(selector: string): Requirement[] {
  if (selector.length > 1024) throw new Error('the labelSelector is longer than 1024 characters');
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    if (selector[i] === '(') depth++;
    else if (selector[i] === ')') depth--;
    else if (selector[i] === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '').map(parseRequirement);
}

function parseRequirement(text: string): Requirement {
  const check = (key: string, values: string[]): void => {
    if (!KEY.test(key) || key.length > 317) throw new Error(`"${key}" in the labelSelector is not a label key`);
    for (const v of values) if (!VALUE.test(v) || v.length > 63) throw new Error(`"${v}" in the labelSelector is not a label value`);
  };
  let m = /^(!)?\s*([^\s=!()]+)$/.exec(text);
  if (m) {
    check(m[2]!, []);
    return { key: m[2]!, op: m[1] ? '!' : 'exists', values: [] };
  }
  m = /^([^\s=!()]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(text);
  if (m) {
    check(m[1]!, [m[3]!]);
    return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
  }
  m = /^([^\s=!()]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(text);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    check(m[1]!, values);
    return { key: m[1]!, op: m[2] as 'in' | 'notin', values };
  }
  throw new Error(`cannot read "${text}" in the labelSelector: use key=value, key!=value, key in (a,b), key notin (a,b), key or !key`);
}

export function matches(requirements: Requirement[], labels: Record<string, string>): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case 'exists': return has;
      case '!': return !has;
      case 'in': return has && r.values.includes(value!);
      case 'notin': return !has || !r.values.includes(value!);
    }
  });
}

/** A mesh's capacity values as the metrics API's source reads them. */
export interface MeshCapacityRow {
  name: string;
  capacity: MeshCapacity | undefined;
}

export interface ExternalMetricValue {
  metricName: string;
  metricLabels: Record<string, string>;
  timestamp: string;
  value: string;
}

/**
 * The answer to GET .../namespaces/{ns}/{metric}?labelSelector=...: one item per mesh the selector
 * matches (its labels are `mesh: <name>`) that has a value; a mesh without a plan yet has none.
 */
export function metricValueList(metric: MetricName, rows: MeshCapacityRow[], requirements: Requirement[], now: Date) {
  const items: ExternalMetricValue[] = [];
  for (const row of rows) {
    const metricLabels = { mesh: row.name };
    if (!row.capacity || !matches(requirements, metricLabels)) continue;
    const value = METRICS[metric](row.capacity);
    if (value !== undefined) items.push({ metricName: metric, metricLabels, timestamp: now.toISOString().replace(/\.\d+Z$/, 'Z'), value });
  }
  return { kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items };
}
