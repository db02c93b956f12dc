// Fake reflectors for the operator benchmark's 100 meshes: one process with an HTTP listener per
// reflector (host:port), answering the admin calls the operator makes (GET /v1/status, PUT /v1/peers,
// drain, migrate) from memory, so the operator's reconcile cost includes its real HTTP calls while the
// reflectors' own CPU stays out of the operator's process. Prints "ready" once every listener listens.
// usage: node dist/bench/operator/fake-reflectors.js HOST:PORT[,HOST:PORT...]
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

interface State {
  peers: { id: string }[];
}

function handler(state: State) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const url = req.url ?? '';
      let answer: unknown = {};
      if (req.method === 'PUT' && url.startsWith('/v1/peers')) {
        const parsed = JSON.parse(body || '{}') as { peers?: { id: string }[] };
        state.peers = (parsed.peers ?? []).map((p) => ({ id: p.id }));
        answer = { peers: state.peers };
      } else if (url.startsWith('/v1/status')) {
        answer = { draining: false, clients: [], peers: state.peers, outboundStreams: 0, outboundBitsPerSecond: 0, counters: {} };
      } else if (url.startsWith('/v1/peers')) {
        answer = { peers: state.peers };
      } else if (url.startsWith('/healthz')) {
        answer = { ok: true };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  };
}

async function main(targets: string[]): Promise<void> {
  await Promise.all(
    targets.map(
      (t) =>
        new Promise<void>((resolve, reject) => {
          const [host, port] = t.split(':') as [string, string];
          const server = createServer(handler({ peers: [] }));
          server.once('error', reject);
          server.listen(Number(port), host, () => resolve());
        }),
    ),
  );
  process.stdout.write('ready\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main((process.argv[2] ?? '').split(',').filter(Boolean)).catch((err: unknown) => {
  process.stderr.write(`fake reflectors: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
