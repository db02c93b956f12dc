// The Lease client against a real HTTP server standing in for the API server: requests carry the
// deadline's AbortSignal (client-node middleware), so a server that never answers costs the leader
// one bounded call, not its leadership.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { bounded, CallTimeoutError } from '../../../operator/kube/bounded.js';
import { clientNodeLeaseApi } from '../../../operator/leader.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function apiServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<KubeConfig> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
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
