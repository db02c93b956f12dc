// A plain HTTP server standing in for the API server, and a kubeconfig that points at it: for tests of
// the operator's Kubernetes clients that must see the requests themselves (deadlines, metrics), where a
// real kube-apiserver would not let the test answer as it likes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export type StubHandler = (req: IncomingMessage, res: ServerResponse) => void;

export class StubApiServer {
  private constructor(
    private readonly server: Server,
    /** host:port, as client-go's rest_client_* metrics label it. */
    readonly host: string,
    readonly kc: KubeConfig,
  ) {}

  /** Listens on a free loopback port and answers every request with `handler`. */
  static async start(handler: StubHandler): Promise<StubApiServer> {
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://${host}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return new StubApiServer(server, host, kc);
  }

  /** Closes the server, open connections included (a request the handler never answered). */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
