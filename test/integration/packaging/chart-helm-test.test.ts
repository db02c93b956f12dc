// What `helm test` runs (templates/tests/) and the reflectors' PriorityClass, rendered by helm: valid
// objects, test pods that only run under `helm test`, that no Service or Deployment of the chart selects,
// locked down like the operator, reaching the operator by its Service name or the URL given, and joining
// a mesh from a node that runs one of its reflectors with a token minted from the mounted mesh key.
import { describe, expect, it } from 'vitest';
import { find, kubeconform, parseManifests, run, CHART, template, toolsForTests, type KubeObject } from './tools.js';

const ready = toolsForTests();

interface TestPod extends KubeObject {
  spec: {
    restartPolicy: string;
    securityContext: Record<string, unknown>;
    affinity?: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[] } };
    containers: { command: string[]; args: string[]; env: { name: string; value?: string; valueFrom?: unknown }[]; securityContext: Record<string, unknown>; volumeMounts?: { mountPath: string; readOnly?: boolean }[] }[];
    volumes?: { secret: { secretName: string; items: { key: string; path: string }[] } }[];
  };
}

function render(sets: Record<string, string | number | boolean>): KubeObject[] {
  const rendered = template(ready.tools, sets);
  const result = kubeconform(ready.tools, ready.schemas, rendered);
  expect(result.invalid, result.output).toEqual([]);
  return parseManifests(rendered);
}

function env(pod: TestPod, name: string): unknown {
  const found = pod.spec.containers[0]?.env.find((e) => e.name === name);
  return found?.value ?? found?.valueFrom;
}

describe('helm test pods', () => {
  it('the operator check: a test hook, by the metrics Service\'s DNS name, selected by nothing, locked down', () => {
    const objects = render({});
    const pod = find(objects, 'Pod', 'rm-reflector-mesh-test-operator') as TestPod;
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(env(pod, 'OPERATOR_URL')).toBe('http://rm-reflector-mesh-metrics.rmesh-system.svc:8080/readyz');
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.containers[0]?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    // Neither the Service nor the Deployment selects it (it would get the operator's traffic).
    const service = find(objects, 'Service') as KubeObject & { spec: { selector: Record<string, string> } };
    const deployment = find(objects, 'Deployment') as KubeObject & { spec: { selector: { matchLabels: Record<string, string> } } };
    const labels = pod.metadata.labels ?? {};
    for (const selector of [service.spec.selector, deployment.spec.selector.matchLabels]) {
      expect(Object.entries(selector).every(([k, v]) => labels[k] === v), JSON.stringify(selector)).toBe(false);
    }
    // No mesh named: no join test.
    expect(objects.filter((o) => o.metadata.name === 'rm-reflector-mesh-test-mesh')).toEqual([]);
  });

  it('tests.operatorUrl replaces the Service name (clusters where a pod cannot use Service names or IPs)', () => {
    const pod = find(render({ 'tests.operatorUrl': 'http://10.214.1.5:8080/readyz' }), 'Pod', 'rm-reflector-mesh-test-operator') as TestPod;
    expect(env(pod, 'OPERATOR_URL')).toBe('http://10.214.1.5:8080/readyz');
  });

  it('the mesh check: in the mesh\'s namespace, on a node of one of its reflectors, a token from the mounted key', () => {
    const objects = render({ 'tests.mesh.name': 'demo', 'tests.mesh.namespace': 'media', 'tests.mesh.controlPort': 7700 });
    const pod = find(objects, 'Pod', 'rm-reflector-mesh-test-mesh') as TestPod;
    expect(pod.metadata.namespace).toBe('media');
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(pod.spec.affinity?.podAffinity.requiredDuringSchedulingIgnoredDuringExecution).toEqual([
      { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'rmesh.io/mesh': 'demo' } } },
    ]);
    expect(env(pod, 'HOST_IP')).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } });
    expect(env(pod, 'CONTROL_PORT')).toBe('7700');
    expect(pod.spec.volumes?.[0]?.secret).toEqual({ secretName: 'demo-mesh-key', items: [{ key: 'key', path: 'key' }] });
    const script = pod.spec.containers[0]?.args.join('\n') ?? '';
    expect(script).toContain('rmesh token --key-file /var/run/rmesh-test/mesh-key/key --mesh "$MESH"');
    expect(script).toContain('rmesh client --join "$HOST_IP:$CONTROL_PORT"');
    expect(script).toContain('set -eu');
    expect(pod.spec.containers[0]?.volumeMounts).toEqual([{ name: 'mesh-key', mountPath: '/var/run/rmesh-test/mesh-key', readOnly: true }]);
  });

  it('the commands the test pods run are the real CLI\'s', () => {
    const help = (args: string[]) => run(process.execPath, ['dist/cli/rmesh.js', ...args, '--help']);
    const token = help(['token']);
    expect(token.status, token.stderr).toBe(0);
    for (const flag of ['--key-file', '--mesh', '--subject', '--ttl']) expect(token.stdout).toContain(flag);
    const client = help(['client']);
    expect(client.status, client.stderr).toBe(0);
    for (const flag of ['--join', '--name', '--duration', '--report']) expect(client.stdout).toContain(flag);
  });
});

describe('the reflectors\' PriorityClass', () => {
  it('off by default; created on request with its value, named for meshes to use', () => {
    expect(parseManifests(template(ready.tools)).filter((o) => o.kind === 'PriorityClass')).toEqual([]);
    // The default value (1000000) from values.yaml: helm must not print it as 1e+06.
    const objects = render({ 'reflectorPriorityClass.create': true });
    const priority = find(objects, 'PriorityClass', 'rm-reflector-mesh-reflector') as KubeObject & { value: number; globalDefault: boolean; preemptionPolicy: string };
    expect(priority).toMatchObject({ value: 1000000, globalDefault: false, preemptionPolicy: 'PreemptLowerPriority' });
    const lower = find(render({ 'reflectorPriorityClass.create': true, 'reflectorPriorityClass.value': 500000 }), 'PriorityClass') as KubeObject & { value: number };
    expect(lower.value).toBe(500000);
  });

  it('refuses a value above what user PriorityClasses may have, naming it', () => {
    const result = run(ready.tools.helm, ['template', 'rm', CHART, '--set', 'reflectorPriorityClass.create=true', '--set', 'reflectorPriorityClass.value=2000000000']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('reflectorPriorityClass');
  });
});
