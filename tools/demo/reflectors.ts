// The demo's reflectors: real `rmesh reflector` child processes on loopback addresses. Checks that the
// ports are free before starting, waits until each serves, and stops (or kills) them on every exit path,
// so the demo leaves no process behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import type { StatusResponse } from '../../protocol/api-schemas.js';
import { controlUrl, requestJson } from '../../client/http.js';
import { peerControlKey, signPeerRequest } from '../../protocol/security/peer-control.js';

/** The built CLI (dist/cli/rmesh.js), beside this file's dist/tools/demo/. */
const RMESH_CLI = fileURLToPath(new URL('../../cli/rmesh.js', import.meta.url));

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

/** Every live child, so a last-chance handler can kill what an exception left behind. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export class DemoReflector {
  /** The last lines of its output, for error messages. */
  readonly output: string[] = [];
  readonly exited: Promise<void>;
  exitDescription: string | undefined;

  private constructor(
    readonly spec: DemoReflectorSpec,
    readonly child: ChildProcess,
  ) {
    const collect = (chunk: Buffer): void => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (this.output.length > 30) this.output.splice(0, this.output.length - 30);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    live.add(child);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exitDescription = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
    });
  }

  get id(): string {
    return `${this.spec.address}:${this.spec.controlPort}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Spawns the reflector and waits until it answers /healthz. */
  static async start(spec: DemoReflectorSpec, timeoutMs = 20_000): Promise<DemoReflector> {
    const args = ['reflector', '--address', spec.address, '--data-port', String(spec.dataPort), '--control-port', String(spec.controlPort), ...TIMINGS];
    if (spec.join) args.push('--join', spec.join);
    args.push(...(spec.extraArgs ?? []));
    const [command, argv] = spec.netns ? ['ip', ['netns', 'exec', spec.netns, process.execPath, RMESH_CLI, ...args]] : [process.execPath, [RMESH_CLI, ...args]];
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RMESH_MESH_KEY: DEMO_MESH_KEY } });
    const reflector = new DemoReflector(spec, child);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (reflector.exitDescription) {
        throw new Error(`reflector ${reflector.id} stopped during startup (${reflector.exitDescription}):\n${reflector.output.slice(-8).join('\n')}`);
      }
      try {
        const r = await fetch(`http://${spec.address}:${spec.controlPort}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return reflector;
      } catch {
        // not serving yet
      }
      await sleep(100);
    }
    await reflector.stop(0);
    throw new Error(`reflector ${reflector.id} did not serve within ${timeoutMs} ms:\n${reflector.output.slice(-8).join('\n')}`);
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
  async stop(graceMs = 5000): Promise<void> {
    if (this.exitDescription) return;
    if (graceMs > 0) {
      this.child.kill('SIGTERM');
      const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
      if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'exited') return;
    }
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Waits until every reflector lists every other as a peer. */
export async function waitForFullMesh(reflectors: DemoReflector[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let full = true;
    for (const r of reflectors) {
      const ids = new Set(await r.peerIds().catch(() => [] as string[]));
      if (!reflectors.every((o) => o === r || ids.has(o.id))) full = false;
    }
    if (full) return;
    if (Date.now() > deadline) throw new Error(`the reflectors did not form a full mesh within ${timeoutMs} ms`);
    await sleep(100);
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

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
