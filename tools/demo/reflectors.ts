// The demo's reflectors: real `rmesh reflector` child processes on loopback addresses, run by the
// project's one runner (../reflector-child.ts), with the demo's timings and mesh key. Checks that the
// ports are free before starting; the runner stops (or kills) them on every exit path, so the demo
// leaves no process behind.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { StatusResponse } from '../../protocol/api-schemas.js';
import { controlUrl, requestJson } from '../../client/http.js';
import { peerControlKey, signPeerRequest } from '../../protocol/security/peer-control.js';
import { ReflectorChild, waitForFullMesh, type Exit } from '../reflector-child.js';
import { sleep } from '../wait.js';

export interface DemoReflectorSpec {
  address: string;
  dataPort: number;
  controlPort: number;
  /** HOST:CONTROLPORT of a member to join through. */
  join?: string;
  /** Run inside this named network namespace (`ip netns exec`): the benchmarks' emulated hosts. */
  netns?: string;
  /** Flags after the demo's own (a later flag wins), e.g. slower keep-alives on a thin emulated link. */
  extraArgs?: string[];
}

/**
 * The demo mesh's key: random per run, shared by every reflector the demo starts (and by whatever
 * the demo's clients need signed with it).
 */
export const DEMO_MESH_KEY = randomBytes(32).toString('base64');

/** Short timings: a laptop demo wants fast joins and a quick, clean shutdown. */
const TIMINGS = [
  '--keepalive-interval', '300ms',
  '--peer-timeout', '3s',
  '--client-idle-timeout', '3s',
  '--migration-grace', '500ms',
  '--drain-timeout', '3s',
  '--log-level', 'warn',
];

export class DemoReflector extends ReflectorChild {
  private constructor(readonly spec: DemoReflectorSpec) {
    const args = ['reflector', '--address', spec.address, '--data-port', String(spec.dataPort), '--control-port', String(spec.controlPort), ...TIMINGS];
    if (spec.join) args.push('--join', spec.join);
    args.push(...(spec.extraArgs ?? []));
    super({ args, env: { ...process.env, RMESH_MESH_KEY: DEMO_MESH_KEY }, keepLines: 30, ...(spec.netns ? { netns: spec.netns } : {}) });
  }

  get id(): string {
    return `${this.spec.address}:${this.spec.controlPort}`;
  }

  /** Spawns the reflector and waits until it answers /healthz. */
  static async start(spec: DemoReflectorSpec, timeoutMs = 20_000): Promise<DemoReflector> {
    const reflector = new DemoReflector(spec);
    await reflector.waitServing(reflector.id, `http://${spec.address}:${spec.controlPort}/healthz`, { timeoutMs, intervalMs: 100 });
    return reflector;
  }

  async status(): Promise<StatusResponse> {
    return this.adminGet<StatusResponse>('/v1/status');
  }

  async peerIds(): Promise<string[]> {
    return (await this.adminGet<{ peers: { id: string }[] }>('/v1/peers')).peers.map((p) => p.id);
  }

  /** An admin call, signed with the demo's mesh key as the operator signs its calls (the admin routes of a keyed mesh need it). */
  private adminGet<T>(path: string): Promise<T> {
    const key = peerControlKey(Buffer.from(DEMO_MESH_KEY, 'base64'));
    return requestJson<T>(controlUrl(this.spec.address, this.spec.controlPort, path), { authorize: (method, p, body) => signPeerRequest(key, method, p, body), timeoutMs: 2000 });
  }

  /** SIGTERM (the reflector drains and leaves), then SIGKILL if it has not exited within `graceMs`. */
  override async stop(graceMs = 5000): Promise<Exit> {
    return super.stop(graceMs);
  }
}

/**
 * Fails with a clear message when a reflector's UDP data port or TCP control port is taken (or the
 * address cannot be bound), before any process starts.
 */
export async function checkPortsFree(specs: DemoReflectorSpec[]): Promise<void> {
  for (const spec of specs) {
    await probe(() => bindUdp(spec.address, spec.dataPort), `UDP data port ${spec.dataPort} on ${spec.address}`, '--data-port');
    await probe(() => listenTcp(spec.address, spec.controlPort), `TCP control port ${spec.controlPort} on ${spec.address}`, '--control-port');
  }
}

export class PortTakenError extends Error {
  override name = 'PortTakenError';
}

async function probe(attempt: () => Promise<void>, what: string, flag: string): Promise<void> {
  try {
    await attempt();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new PortTakenError(`${what} is already in use (EADDRINUSE): another program (or another demo) holds it. Choose other ports with ${flag}, or stop that program.`);
    }
    if (code === 'EADDRNOTAVAIL') {
      throw new PortTakenError(`cannot bind ${what} (EADDRNOTAVAIL): the address is not on this machine. Choose a loopback address with --base-address (127.x.y.z).`);
    }
    throw new PortTakenError(`cannot bind ${what}: ${(err as Error).message}`);
  }
}

function bindUdp(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve()));
  });
}

function listenTcp(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

export { sleep, waitForFullMesh };
