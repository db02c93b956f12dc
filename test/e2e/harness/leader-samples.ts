// Who believes it leads, sampled while the operator is upgraded: every ~200 ms the Lease's holder and
// each operator pod's own `rmesh_operator_leader` gauge (read through the API server's pod proxy, so it
// works on any cluster). One leader at every moment is the property leader election exists for.
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { Cluster } from './cluster.js';
import { OPERATOR_PORT } from './mesh.js';

export interface LeaderSample {
  atMs: number;
  /** The Lease's holderIdentity before and after the pods were asked (`<pod>_<suffix>`, '' when released). */
  holderBefore: string;
  holderAfter: string;
  /** Operator pods whose gauge said 1 (terminating ones included: a pod on its way out may still act). */
  leaders: string[];
  /** Operator pods asked, and those that did not answer (starting, or gone). */
  asked: string[];
  silent: string[];
}

export interface LeaderSampler {
  /** Stops sampling; resolves to every sample taken. */
  stop(): Promise<LeaderSample[]>;
  /** The first few reasons pods did not answer. */
  errors(): string[];
  /** Whether a sample so far had `pod` as its one leader. */
  seenLeading(pod: string): boolean;
}

const NAMESPACE = 'rmesh-system';

/** Samples until stopped, `everyMs` apart (a sample itself takes what the calls take). */
export function sampleLeaders(cluster: Cluster, leaseName: string, port = OPERATOR_PORT, everyMs = 200): LeaderSampler {
  const leases = cluster.kc.makeApiClient(CoordinationV1Api);
  const core = cluster.kc.makeApiClient(CoreV1Api);
  const holder = async () => (await leases.readNamespacedLease({ name: leaseName, namespace: NAMESPACE }).catch(() => undefined))?.spec?.holderIdentity ?? '';
  const samples: LeaderSample[] = [];
  /** Why pods did not answer (one line per pod and reason), for the scenario's message. */
  const errors = new Set<string>();
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      const atMs = Date.now();
      const holderBefore = await holder();
      const running = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app.kubernetes.io/component=operator' })).items
        .filter((p) => p.status?.phase === 'Running' && p.status.podIP);
      const pods = running.map((p) => p.metadata?.name ?? '');
      const answers = await Promise.all(running.map(async (p) => {
        const pod = p.metadata?.name ?? '';
        try {
          // The pod's own address first (the harness's host routes to every node's pods), else the API
          // server's pod proxy (a kubeconfig's cluster).
          const text = await fetch(`http://${p.status!.podIP}:${port}/metrics`, { signal: AbortSignal.timeout(1000) })
            .then((r) => r.text())
            .catch(async () => String(await core.connectGetNamespacedPodProxyWithPath({ name: `${pod}:${port}`, namespace: NAMESPACE, path: 'metrics' })));
          // Only this line is read: prom-client writes NaN as "Nan" elsewhere, which a strict parser refuses.
          const value = /^rmesh_operator_leader (\S+)$/m.exec(text)?.[1];
          if (value === undefined) throw new Error(`no rmesh_operator_leader line in ${text.slice(0, 200)}`);
          return { pod, leader: Number(value) === 1 };
        } catch (err) {
          errors.add(`${pod}: ${err instanceof Error ? err.message : String(err)}`);
          return { pod, leader: undefined };
        }
      }));
      samples.push({
        atMs,
        holderBefore,
        holderAfter: await holder(),
        leaders: answers.filter((a) => a.leader === true).map((a) => a.pod),
        asked: pods,
        silent: answers.filter((a) => a.leader === undefined).map((a) => a.pod),
      });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      sampling = false;
      await loop;
      return samples;
    },
    errors: () => [...errors].slice(0, 5),
    seenLeading: (pod) => samples.some((s) => s.leaders.length === 1 && s.leaders[0] === pod),
  };
}

/** The samples where more than one pod believed it leads, or the one that did held no Lease then. */
export function leadershipViolations(samples: readonly LeaderSample[]): string[] {
  const pod = (identity: string) => identity.replace(/_[^_]*$/, '');
  const problems: string[] = [];
  for (const s of samples) {
    const at = new Date(s.atMs).toISOString();
    if (s.leaders.length > 1) problems.push(`${at}: ${s.leaders.join(' and ')} both say they lead`);
    // The Lease may change between the reads: a leader must be the holder on one side of its answer.
    else if (s.leaders.length === 1 && pod(s.holderBefore) !== s.leaders[0] && pod(s.holderAfter) !== s.leaders[0]) {
      problems.push(`${at}: ${s.leaders[0]} says it leads, the Lease says ${s.holderBefore || '(released)'} then ${s.holderAfter || '(released)'}`);
    }
  }
  return problems;
}
