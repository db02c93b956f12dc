// The Lease client against a real HTTP server standing in for the API server: requests carry the
// deadline's AbortSignal (client-node middleware), so a server that never answers costs the leader
// one bounded call, not its leadership.
import type { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { StubApiServer, type StubHandler } from '../../support/stub-api-server.js';
import { bounded, CallTimeoutError } from '../../../operator/kube/bounded.js';
import { clientNodeLeaseApi } from '../../../operator/leader.js';

let stub: StubApiServer | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

async function apiServer(handler: StubHandler): Promise<KubeConfig> {
  stub = await StubApiServer.start(handler);
  return stub.kc;
}

describe('clientNodeLeaseApi', () => {
  it('reads a Lease over HTTP with a signal attached', async () => {
    const kc = await apiServer((req, res) => {
      expect(req.url).toBe('/apis/coordination.k8s.io/v1/namespaces/ops/leases/rmesh');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'rmesh', namespace: 'ops', resourceVersion: '7' }, spec: { holderIdentity: 'a' } }));
    });
    const lease = await clientNodeLeaseApi(kc).read('ops', 'rmesh', new AbortController().signal);
    expect(lease?.spec?.holderIdentity).toBe('a');
    expect(lease?.metadata?.resourceVersion).toBe('7');
  });

  it('aborts the HTTP request of a call past its deadline (the server sees the connection close)', async () => {
    let closed = false;
    const kc = await apiServer((req) => {
      req.socket.on('close', () => (closed = true)); // never answers
    });
    const started = performance.now();
    await expect(bounded('the Lease', 300, (signal) => clientNodeLeaseApi(kc).read('ops', 'rmesh', signal))).rejects.toBeInstanceOf(CallTimeoutError);
    expect(performance.now() - started).toBeLessThan(2000);
    await expect.poll(() => closed, { timeout: 2000 }).toBe(true);
  });
});
