// The external metrics API's pure parts (operator/external-metrics/api.ts, front-proxy.ts, self-signed.ts):
// label selectors as Kubernetes reads them, quantities, the answer's shape, the request-header trust
// from the cluster's ConfigMap, and the self-signed certificate as X.509 readers see it.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  groupListDiscovery,
  isMetricName,
  isNamespaceName,
  matches,
  metricValueList,
  milliQuantity,
  parseLabelSelector,
  resourceListDiscovery,
  statusError,
} from '../../../operator/external-metrics/api.js';
import { trustFromConfigMap } from '../../../operator/external-metrics/front-proxy.js';
import { selfSignedCertificate } from '../../../operator/external-metrics/self-signed.js';
import { meshCapacity } from '../../../operator/mesh-metrics.js';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';

const rows = [
  { name: 'conf', capacity: { freeClientSlots: 12, utilisation: 0.75 } },
  { name: 'talk', capacity: { freeClientSlots: 0, utilisation: 1.0004 } },
  { name: 'new', capacity: undefined },
  { name: 'nobudget', capacity: { freeClientSlots: 3, utilisation: undefined } },
];
const now = new Date('2026-12-07T03:00:00.123Z');

describe('label selectors', () => {
  it.each([
    ['mesh=conf', { mesh: 'conf' }, true],
    ['mesh==conf', { mesh: 'talk' }, false],
    ['mesh!=conf', { mesh: 'talk' }, true],
    ['mesh in (a, conf)', { mesh: 'conf' }, true],
    ['mesh notin (a,conf)', { mesh: 'conf' }, false],
    ['mesh', { mesh: 'x' }, true],
    ['!mesh', { mesh: 'x' }, false],
    ['mesh=conf,tier=gold', { mesh: 'conf' }, false],
    ['tier!=gold', { mesh: 'conf' }, true],
    ['', { mesh: 'conf' }, true],
  ])('%j on %j: %s', (selector, labels, expected) => {
    expect(matches(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it.each(['mesh=(', 'mesh in a,b', 'mesh=a=b', 'mesh=a b', '=x', 'me$h=x', 'mesh=' + 'x'.repeat(64), 'x'.repeat(1025)])('refuses %j with a message', (selector) => {
    expect(() => parseLabelSelector(selector)).toThrow(/labelSelector/);
  });
});

describe('quantities and names', () => {
  it.each([[0.75, '750m'], [1, '1'], [0, '0'], [1.0004, '1'], [0.0004, '0'], [2.5, '2500m'], [Number.NaN, undefined], [Infinity, undefined]])('%s → %s', (x, q) => {
    expect(milliQuantity(x)).toBe(q);
  });
  it('knows its two metrics and namespace names', () => {
    expect(isMetricName('rmesh_mesh_free_client_slots')).toBe(true);
    expect(isMetricName('rmesh_mesh_capacity_utilisation')).toBe(true);
    expect(isMetricName('toString')).toBe(false);
    expect(isMetricName('__proto__')).toBe(false);
    for (const bad of ['a/../b', '..', 'A', '', 'a'.repeat(64), 'a%2Fb', '-a']) expect(isNamespaceName(bad)).toBe(false);
    expect(isNamespaceName('media-1')).toBe(true);
  });
});

describe('the answers', () => {
  it('lists the selected meshes that have a value, with their labels and the time to the second', () => {
    expect(metricValueList('rmesh_mesh_capacity_utilisation', rows, parseLabelSelector(''), now)).toEqual({
      kind: 'ExternalMetricValueList',
      apiVersion: 'external.metrics.k8s.io/v1beta1',
      metadata: {},
      items: [
        { metricName: 'rmesh_mesh_capacity_utilisation', metricLabels: { mesh: 'conf' }, timestamp: '2026-12-07T03:00:00Z', value: '750m' },
        { metricName: 'rmesh_mesh_capacity_utilisation', metricLabels: { mesh: 'talk' }, timestamp: '2026-12-07T03:00:00Z', value: '1' },
      ],
    });
    const free = metricValueList('rmesh_mesh_free_client_slots', rows, parseLabelSelector('mesh in (conf,nobudget,new)'), now);
    expect(free.items.map((i) => [i.metricLabels.mesh, i.value])).toEqual([['conf', '12'], ['nobudget', '3']]);
    expect(metricValueList('rmesh_mesh_free_client_slots', rows, parseLabelSelector('mesh=gone'), now).items).toEqual([]);
  });

  it('describes the group and its two namespaced, get-only resources; errors are metav1.Status', () => {
    expect(groupListDiscovery.groups[0]?.preferredVersion.groupVersion).toBe('external.metrics.k8s.io/v1beta1');
    expect(resourceListDiscovery.resources.map((r) => [r.name, r.namespaced, r.verbs])).toEqual([
      ['rmesh_mesh_free_client_slots', true, ['get']],
      ['rmesh_mesh_capacity_utilisation', true, ['get']],
    ]);
    expect(statusError(401, 'no certificate')).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'no certificate', reason: 'Unauthorized', code: 401 });
  });

  it('reads a mesh status the way the gauges do, and nothing before the first plan', () => {
    const { spec } = resolveSpec({ replicas: 2, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 20, headroom: 0 } });
    expect(meshCapacity(spec, undefined)).toBeUndefined();
    const status = { plan: { peakOutboundStreams: 6, bitrateMbps: 1 }, autoscaling: { freeClientSlots: 3 } } as unknown as Parameters<typeof meshCapacity>[1];
    expect(meshCapacity(spec, status)).toEqual({ freeClientSlots: 3, utilisation: 0.3 });
  });
});

describe('the request-header trust of extension-apiserver-authentication', () => {
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  it('takes the CA, the allowed names and the user headers as kube-apiserver writes them', () => {
    expect(trustFromConfigMap({
      'requestheader-client-ca-file': ca,
      'requestheader-allowed-names': '["front-proxy-client"]',
      'requestheader-username-headers': '["X-Remote-User"]',
      'requestheader-group-headers': '["X-Remote-Group"]',
    })).toEqual({ clientCa: ca, allowedNames: ['front-proxy-client'], usernameHeaders: ['X-Remote-User'] });
    expect(trustFromConfigMap({ 'requestheader-client-ca-file': ca, 'requestheader-allowed-names': '' }).allowedNames).toEqual([]);
  });
  it('says what to do when the aggregation layer is not configured or the ConfigMap is malformed', () => {
    expect(() => trustFromConfigMap({ 'client-ca-file': ca })).toThrow(/--requestheader-client-ca-file/);
    expect(() => trustFromConfigMap(undefined)).toThrow(/no requestheader-client-ca-file/);
    expect(() => trustFromConfigMap({ 'requestheader-client-ca-file': ca, 'requestheader-allowed-names': '{"a":1}' })).toThrow(/not a JSON list/);
  });
});

describe('the self-signed serving certificate', () => {
  it('is a v3 ECDSA certificate for its names, signed by its own key, valid from an hour ago', () => {
    const t = new Date('2026-12-07T03:00:00Z');
    const { cert, key } = selfSignedCertificate(['localhost', '10.1.2.3', 'fd00::1'], 30, t);
    const x = new X509Certificate(cert);
    expect(x.subject).toBe('CN=localhost');
    expect(x.issuer).toBe('CN=localhost');
    expect(x.subjectAltName).toBe('DNS:localhost, IP Address:10.1.2.3, IP Address:FD00:0:0:0:0:0:0:1');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.ca).toBe(false);
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(x.validFrom).toISOString()).toBe('2026-12-07T02:00:00.000Z');
    expect(new Date(x.validTo).toISOString()).toBe('2027-01-06T03:00:00.000Z');
    expect(x.checkPrivateKey(createPrivateKey(key))).toBe(true);
  });
  it('refuses to make a certificate for no name', () => {
    expect(() => selfSignedCertificate([])).toThrow(/at least one/);
  });
});

