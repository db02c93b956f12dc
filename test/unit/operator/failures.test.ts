// Refusals made visible: the Degraded reason and a Warning event with the API server's message, stable
// across attempts so duplicate suppression works.
import { describe, expect, it } from 'vitest';
import { describeFailures, stableMessage, type ActionFailure } from '../../../operator/controller/failures.js';

const podSecurity = 'HTTP 403: pods "conf-x7k2p" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true), hostPort (container "reflector" uses hostPorts 5004, 5005)';

describe('describeFailures', () => {
  it.each<{ name: string; failures: ActionFailure[]; reason?: string; message?: RegExp; events: string[] }>([
    { name: 'nothing failed: nothing to say', failures: [], events: [] },
    { name: 'Pod Security refused a pod', failures: [{ type: 'createPod', code: 403, message: podSecurity }], reason: 'PodCreateRefused', message: /violates PodSecurity.*label the namespace pod-security.kubernetes.io\/enforce=privileged/, events: ['PodCreateRefused'] },
    { name: 'a quota refused a pod', failures: [{ type: 'createPod', code: 403, message: 'HTTP 403: pods "conf-a" is forbidden: exceeded quota: q, requested: pods=1, used: pods=4, limited: pods=4' }], reason: 'PodCreateRefused', message: /exceeded quota.*Raise the namespace's ResourceQuota/, events: ['PodCreateRefused'] },
    { name: 'a webhook refused a deletion', failures: [{ type: 'deletePod', code: 400, message: 'HTTP 400: admission webhook "deny.example.com" denied the request: frozen' }], reason: 'PodDeleteRefused', message: /denied the request: frozen/, events: ['PodDeleteRefused'] },
    { name: 'a reflector\'s admin API failed', failures: [{ type: 'setPeers', message: 'connect ECONNREFUSED 10.0.0.1:7001' }], reason: 'ReflectorAdminFailed', message: /ECONNREFUSED/, events: ['ReflectorAdminFailed'] },
    {
      name: 'several kinds: an event each, the condition names the first',
      failures: [{ type: 'createPod', code: 403, message: podSecurity }, { type: 'createPod', code: 403, message: podSecurity }, { type: 'migrate', message: 'timeout' }],
      reason: 'PodCreateRefused',
      message: /PodSecurity/,
      events: ['PodCreateRefused', 'ReflectorAdminFailed'],
    },
  ])('$name', ({ failures, reason, message, events }) => {
    const d = describeFailures(failures);
    expect(d.events.map((e) => e.reason)).toEqual(events);
    expect(d.events.every((e) => e.type === 'Warning')).toBe(true);
    expect(d.degraded?.reason).toBe(reason);
    if (message) expect(d.degraded?.message).toMatch(message);
  });

  it('keeps event messages stable across attempts (generated pod names, uids)', () => {
    const a = stableMessage('HTTP 403: pods "conf-x7k2p" is forbidden: uid 0a1b2c3d-1111-2222-3333-444455556666');
    const b = stableMessage('HTTP 403: pods "conf-q9z3r" is forbidden: uid 9f8e7d6c-1111-2222-3333-444455556666');
    expect(a).toBe(b);
    expect(describeFailures([{ type: 'createPod', message: podSecurity }]).events).toEqual(describeFailures([{ type: 'createPod', message: podSecurity.replace('x7k2p', 'aaaaa') }]).events);
  });
});
