// The reflector's compute resources: by default requests (cpu, memory) and a memory limit, so the pod is
// Burstable, not BestEffort, and has no CPU limit; a mesh that sets resources gets exactly that.
import { describe, expect, it } from 'vitest';
import { resolveSpec, type ReflectorMeshSpec } from '../../../operator/api/v1alpha1/index.js';
import { DEFAULT_REFLECTOR_RESOURCES } from '../../../operator/api/v1alpha1/spec-pods.js';
import { buildReflectorPod, desiredTemplateHash } from '../../../operator/controller/pod-template.js';
import { mesh } from './fixtures.js';

type Reflector = ReflectorMeshSpec['reflector'];
const reflector = (r: Partial<Reflector>): Reflector => r as Reflector;

function resourcesFor(spec: Parameters<typeof mesh>[0]) {
  const m = mesh(spec);
  return buildReflectorPod(m, resolveSpec(m.spec).spec, { defaultImage: 'rmesh:test' }).spec!.containers[0]!.resources;
}

/** The pod's QoS class as the kubelet computes it for one container (cpu and memory). */
function qosClass(resources: { requests?: Record<string, string>; limits?: Record<string, string> } | undefined): string {
  const requests = { ...resources?.limits, ...resources?.requests };
  const limits = resources?.limits ?? {};
  if (Object.keys(requests).length === 0 && Object.keys(limits).length === 0) return 'BestEffort';
  const guaranteed = ['cpu', 'memory'].every((r) => limits[r] !== undefined && (requests[r] ?? limits[r]) === limits[r]);
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

describe('reflector resources', () => {
  it('by default: requests cpu and memory, a memory limit, no CPU limit: Burstable, not BestEffort', () => {
    const resources = resourcesFor({ replicas: 2 });
    expect(resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    expect(resources).toEqual(DEFAULT_REFLECTOR_RESOURCES);
    expect(qosClass(resources)).toBe('Burstable');
  });

  it('the mesh\'s own resources replace the default whole, even {}', () => {
    expect(resourcesFor({ replicas: 2, reflector: reflector({ resources: { requests: { cpu: 2, memory: '1Gi' }, limits: { cpu: 2, memory: '1Gi' } } }) })).toEqual({
      requests: { cpu: '2', memory: '1Gi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
    const none = resourcesFor({ replicas: 2, reflector: reflector({ resources: {} }) });
    expect(qosClass(none)).toBe('BestEffort');
  });

  it('the default is part of the template hash: spelling it out changes nothing, another value rolls the pods', () => {
    const hash = (spec: Parameters<typeof mesh>[0]) => {
      const m = mesh(spec);
      return desiredTemplateHash(m, resolveSpec(m.spec).spec, 'rmesh:test');
    };
    expect(hash({ replicas: 2, reflector: reflector({ resources: DEFAULT_REFLECTOR_RESOURCES }) })).toBe(hash({ replicas: 2 }));
    expect(hash({ replicas: 2, reflector: reflector({ resources: { requests: { cpu: '200m' } } }) })).not.toBe(hash({ replicas: 2 }));
  });
});
