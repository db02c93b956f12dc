// The chart's externalMetrics block (templates/external-metrics.yaml), rendered by the real helm and
// validated by kubeconform: off by default; on, the APIService of external.metrics.k8s.io points at the
// operator's HTTPS port through a Service of its own, the operator reads the front-proxy trust
// (extension-apiserver-authentication-reader), the HPA controller may read the metrics, and the operator
// runs with --external-metrics-port (self-signed, so the APIService skips verification) or with a
// mounted certificate and the APIService verifying it.
import { describe, expect, it } from 'vitest';
import { kubeconform, parseManifests, template, toolsForTests, type KubeObject } from './tools.js';

const ready = toolsForTests();

type Deployment = KubeObject & {
  spec: { template: { spec: { containers: { args: string[]; ports: { name: string; containerPort: number }[]; volumeMounts?: { name: string; mountPath: string }[] }[]; volumes?: { name: string; secret?: { secretName: string } }[] } } };
};

function byKind(objects: KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

describe('helm template: externalMetrics', () => {
  it('is off by default: no APIService, no flag, no port', () => {
    const objects = parseManifests(template(ready.tools));
    expect(byKind(objects, 'APIService')).toEqual([]);
    const d = byKind(objects, 'Deployment')[0] as Deployment;
    expect(d.spec.template.spec.containers[0]?.args.join(' ')).not.toContain('external-metrics');
  });

  it('on: a valid APIService to the operator\'s HTTPS port, the RBAC it needs, and the flag', () => {
    const rendered = template(ready.tools, { 'externalMetrics.enabled': true });
    const result = kubeconform(ready.tools, ready.schemas, rendered);
    expect(result.invalid, result.output).toEqual([]);
    const objects = parseManifests(rendered);
    const api = byKind(objects, 'APIService')[0] as KubeObject & { spec: Record<string, unknown> };
    expect(api.metadata.name).toBe('v1beta1.external.metrics.k8s.io');
    expect(api.spec).toMatchObject({ group: 'external.metrics.k8s.io', version: 'v1beta1', insecureSkipTLSVerify: true, service: { name: 'rm-reflector-mesh-external-metrics', namespace: 'rmesh-system', port: 443 } });
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === 'rm-reflector-mesh-external-metrics') as KubeObject & { spec: { ports: { port: number; targetPort: string }[] } };
    expect(service.spec.ports).toEqual([{ name: 'https', port: 443, targetPort: 'ext-metrics', protocol: 'TCP' }]);
    const container = (byKind(objects, 'Deployment')[0] as Deployment).spec.template.spec.containers[0]!;
    expect(container.args).toContain('--external-metrics-port=6443');
    expect(container.ports).toContainEqual({ name: 'ext-metrics', containerPort: 6443, protocol: 'TCP' });

    const reader = objects.find((o) => o.kind === 'RoleBinding' && o.metadata.namespace === 'kube-system') as KubeObject & { roleRef: { name: string }; subjects: unknown[] };
    expect(reader.roleRef.name).toBe('extension-apiserver-authentication-reader');
    expect(reader.subjects).toEqual([{ kind: 'ServiceAccount', name: 'rm-reflector-mesh', namespace: 'rmesh-system' }]);
    const hpa = objects.find((o) => o.kind === 'ClusterRoleBinding' && o.metadata.name.endsWith('external-metrics-reader')) as KubeObject & { subjects: unknown[] };
    expect(hpa.subjects).toEqual([{ kind: 'ServiceAccount', name: 'horizontal-pod-autoscaler', namespace: 'kube-system' }]);
    const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('external-metrics-reader')) as KubeObject & { rules: unknown };
    expect(role.rules).toEqual([{ apiGroups: ['external.metrics.k8s.io'], resources: ['*'], verbs: ['get', 'list'] }]);
    // No delegated authorisation: nothing binds system:auth-delegator.
    expect(rendered).not.toContain('system:auth-delegator');
  });

  it('with a certificate Secret: mounted, passed by flag, and verified by the APIService', () => {
    const objects = parseManifests(template(ready.tools, { 'externalMetrics.enabled': true, 'externalMetrics.tls.secretName': 'rmesh-metrics-tls', 'externalMetrics.tls.caBundle': 'Q0E=' }));
    const api = byKind(objects, 'APIService')[0] as KubeObject & { spec: Record<string, unknown> };
    expect(api.spec.caBundle).toBe('Q0E=');
    expect(api.spec.insecureSkipTLSVerify).toBeUndefined();
    const pod = (byKind(objects, 'Deployment')[0] as Deployment).spec.template.spec;
    expect(pod.containers[0]?.args).toContain('--external-metrics-tls-cert-file=/etc/rmesh/external-metrics-tls/tls.crt');
    expect(pod.volumes).toContainEqual({ name: 'external-metrics-tls', secret: { secretName: 'rmesh-metrics-tls' } });
  });
});
