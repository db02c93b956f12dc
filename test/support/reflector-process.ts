// The tests' reflectors: real `rmesh reflector` processes (the built CLI, dist/cli/rmesh.js) on
// loopback addresses, run by the project's one runner (tools/reflector-child.ts, which the
// demo and the benchmarks use too) with the tests' flags, mesh key and credentials; talks to their
// control API. Each process's output is kept for assertions and printed when a test fails.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { StatusResponse } from '../../protocol/api-schemas.js';
import { TEST_MESH_KEY, testClientTokenEnv } from './client-tokens.js';
import { peerControlKey, signPeerRequest } from '../../protocol/security/peer-control.js';
import { loadMeshKeySet } from '../../protocol/security/mesh-key-set.js';
import { ReflectorChild, waitForFullMesh, type Exit } from '../../tools/reflector-child.js';
import { waitFor } from '../../tools/wait.js';
import { freePort, freePortPair } from './ports.js';

export type { Exit };

/** True when this file runs built, from dist/test/support/ (a benchmark), rather than from the sources (vitest). */
const BUILT = path.basename(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')) === 'dist';
/** The built CLI, dist/cli/rmesh.js, from either place. */
export const RMESH_CLI = fileURLToPath(new URL(BUILT ? '../../cli/rmesh.js' : '../../dist/cli/rmesh.js', import.meta.url));
export const REPO_ROOT = path.dirname(path.dirname(path.dirname(RMESH_CLI)));

/** The mesh key every test reflector gets (client-tokens.ts, where tokens are minted with it). */
export { TEST_MESH_KEY };
/** The environment that gives a spawned `rmesh reflector` the test mesh key. */
export const TEST_MESH_KEY_ENV = { RMESH_MESH_KEY: TEST_MESH_KEY } as const;

export interface ReflectorSpec {
  address: string;
  dataPort: number;
  controlPort: number;
  id?: string;
  /** HOST:CONTROLPORT to join through. */
  join?: string;
  rtp?: boolean;
  adminToken?: string;
  /** The base64 mesh key (default TEST_MESH_KEY); null runs an open mesh (--open-mesh, no key). */
  meshKey?: string | null;
  /** Durations as the CLI takes them ("200ms"). Short defaults keep tests quick. */
  keepaliveInterval?: string;
  peerTimeout?: string;
  clientIdleTimeout?: string;
  registrationDeadline?: string;
  migrationGrace?: string;
  drainTimeout?: string;
  dataPlane?: 'auto' | 'native' | 'js';
  logLevel?: string;
  /** Any further flags. */
  extraArgs?: string[];
  /** Runs it in this network namespace (a test host's, test/support/test-hosts.ts) through `ip netns exec`. */
  netns?: string;
  env?: Record<string, string>;
}

/** Fast timings for tests: peers time out in 1.5 s, idle clients in 1.5 s. */
export const FAST_TIMINGS = {
  keepaliveInterval: '200ms',
  peerTimeout: '1500ms',
  clientIdleTimeout: '1500ms',
  registrationDeadline: '2s',
  migrationGrace: '500ms',
  drainTimeout: '10s',
} as const;

export function reflectorArgs(spec: ReflectorSpec): string[] {
  const args = ['reflector', '--address', spec.address, '--data-port', String(spec.dataPort), '--control-port', String(spec.controlPort)];
  const flag = (name: string, value: string | undefined) => {
    if (value !== undefined) args.push(`--${name}`, value);
  };
  flag('id', spec.id);
  flag('join', spec.join);
  flag('admin-token', spec.adminToken);
  flag('keepalive-interval', spec.keepaliveInterval);
  flag('peer-timeout', spec.peerTimeout);
  flag('client-idle-timeout', spec.clientIdleTimeout);
  flag('registration-deadline', spec.registrationDeadline);
  flag('migration-grace', spec.migrationGrace);
  flag('drain-timeout', spec.drainTimeout);
  flag('data-plane', spec.dataPlane);
  flag('log-level', spec.logLevel);
  if (spec.rtp) args.push('--rtp');
  if (spec.meshKey === null) args.push('--open-mesh');
  args.push(...(spec.extraArgs ?? []));
  return args;
}

/** A reflector process of a test: the project's runner (tools/reflector-child.ts) with the test's spec and credentials. */
export class ReflectorProcess extends ReflectorChild {
  constructor(readonly spec: ReflectorSpec) {
    super({
      args: reflectorArgs(spec),
      cli: RMESH_CLI,
      cwd: REPO_ROOT,
      env: { ...process.env, RMESH_MESH_KEY: spec.meshKey === null ? '' : (spec.meshKey ?? TEST_MESH_KEY), ...spec.env },
      ...(spec.netns ? { netns: spec.netns } : {}),
    });
  }

  /** The reflector id (the --id, or ADDRESS:CONTROLPORT). */
  get id(): string {
    return this.spec.id ?? `${this.spec.address}:${this.spec.controlPort}`;
  }

  /** "HOST:CONTROLPORT", what --join and the SDK take. */
  get controlAddress(): string {
    return `${this.spec.address}:${this.spec.controlPort}`;
  }

  url(pathname: string): string {
    return `http://${this.spec.address}:${this.spec.controlPort}${pathname}`;
  }

  /**
   * A request to the control API, with the operator's credentials unless `token` says otherwise: the
   * admin token when the reflector has one, else a request signed with its mesh key (what the admin
   * routes of a keyed mesh need; other routes ignore it). `token: null` sends no credentials at all.
   */
  async request(pathname: string, init: { method?: string; body?: unknown; token?: string | null; raw?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    const token = init.token === undefined ? this.spec.adminToken : init.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (init.raw !== undefined) {
      headers['content-type'] = 'application/json';
      body = init.raw;
    } else if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }
    const method = init.method ?? (body === undefined ? 'GET' : 'POST');
    const meshKey = this.meshKey;
    if (token === undefined && meshKey) headers.authorization = signPeerRequest(peerControlKey(meshKey), method, pathname, body ?? '');
    return fetch(this.url(pathname), { method, headers, body, signal: AbortSignal.timeout(15_000) });
  }

  /** The reflector's mesh key (the current key of its key file, read now), or undefined in an open mesh. */
  get meshKey(): Buffer | undefined {
    // A key file is read at every call: a rotation step rewrites it, and the current key is what every
    // reflector of the mesh accepts at every step.
    const args = this.spec.extraArgs ?? [];
    const file = args[args.indexOf('--mesh-key-file') + 1];
    if (args.includes('--mesh-key-file') && file !== undefined) return loadMeshKeySet({ file })?.current;
    // As startReflector builds its environment: spec.env wins over the spec's key.
    const base64 = this.spec.env?.RMESH_MESH_KEY ?? (this.spec.meshKey === null ? '' : (this.spec.meshKey ?? TEST_MESH_KEY));
    if (base64 === '' || this.spec.env?.RMESH_OPEN_MESH === 'true') return undefined;
    return Buffer.from(base64, 'base64');
  }

  /** GET/POST returning the parsed JSON body; throws with the body on a non-2xx status. */
  async json<T = unknown>(pathname: string, init: { method?: string; body?: unknown; token?: string | null } = {}): Promise<T> {
    const response = await this.request(pathname, init);
    const text = await response.text();
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${pathname} -> ${response.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  status(): Promise<StatusResponse> {
    return this.json<StatusResponse>('/v1/status');
  }

  /** SIGTERM and wait for the exit (SIGKILL after `graceMs`: a test asserting a clean exit then sees the signal). */
  override async stop(graceMs = 20_000): Promise<Exit> {
    return super.stop(graceMs);
  }

  /** The ids of the peers it lists (GET /v1/peers). */
  async peerIds(): Promise<string[]> {
    return (await this.json<{ peers: { id: string }[] }>('/v1/peers')).peers.map((p) => p.id);
  }

  /** SIGSTOP: the process stalls (its sockets keep queueing) until resume(). */
  pause(): void {
    if (!this.exit) this.child.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (!this.exit) this.child.kill('SIGCONT');
  }

  /** Waits until a line of output matches. */
  async waitForOutput(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    let found: string | undefined;
    await waitFor(() => (found = this.output.find((l) => pattern.test(l))) !== undefined, { timeoutMs, what: `output ${pattern} from ${this.id}` });
    return found!;
  }
}

const STARTED = /"msg":"reflector started"/;

// A test process ended by a signal exits, so that the runner's exit handler kills every reflector it
// started (the demo keeps SIGINT for itself; tests have no use for it).
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => process.exit(1));

/**
 * Spawns `rmesh reflector` and waits until it says it started and /healthz answers; rejects (with its
 * output) if it exits first. Waiting for its own log line first means a stray process on the same
 * address cannot answer in its place.
 */
export async function startReflector(spec: ReflectorSpec, timeoutMs = 60_000): Promise<ReflectorProcess> {
  const reflector = new ReflectorProcess(spec);
  await reflector.waitServing(reflector.id, reflector.url('/healthz'), { timeoutMs, startedLine: STARTED });
  return reflector;
}

export interface MeshSpec {
  /** How many reflectors. */
  size: number;
  /** Address of reflector i is `${addressPrefix}${firstHost + i}`. */
  addressPrefix: string;
  firstHost?: number;
  /** Settings for every reflector (address, ports and join are filled in). */
  common?: Omit<ReflectorSpec, 'address' | 'dataPort' | 'controlPort' | 'join'>;
}

/** Ports this process has handed to a reflector: the OS may give a port again once its probe socket closed. */
const handedOut = new Set<number>();

/**
 * Ports for one reflector, asked of the OS: a data port P with P + 1 free too (RTP mode takes both) and
 * a control port, none handed to another reflector of this test process before.
 */
export async function reflectorPorts(): Promise<{ dataPort: number; controlPort: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const dataPort = await freePortPair();
    const controlPort = await freePort();
    const ports = [dataPort, dataPort + 1, controlPort];
    if (new Set(ports).size < 3 || ports.some((p) => handedOut.has(p))) continue;
    for (const p of ports) handedOut.add(p);
    return { dataPort, controlPort };
  }
  throw new Error('no fresh data port pair and control port after 20 tries');
}

/** The spec of reflector i of a mesh, on ports asked of the OS. */
export async function meshMemberSpec(mesh: MeshSpec, i: number, join?: string): Promise<ReflectorSpec> {
  return {
    ...FAST_TIMINGS,
    ...mesh.common,
    address: `${mesh.addressPrefix}${(mesh.firstHost ?? 1) + i}`,
    ...(await reflectorPorts()),
    ...(join ? { join } : {}),
  };
}

/** Starts a full mesh: the first reflector alone, the others joining through it; waits until all see all. */
export async function startMesh(mesh: MeshSpec): Promise<ReflectorProcess[]> {
  const first = await startReflector(await meshMemberSpec(mesh, 0));
  const results = await Promise.allSettled(
    Array.from({ length: mesh.size - 1 }, async (_, k) => startReflector(await meshMemberSpec(mesh, k + 1, first.controlAddress))),
  );
  const all = [first, ...results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  try {
    if (failed) throw failed.reason;
    await waitForFullMesh(all);
  } catch (err) {
    await stopAll(all); // leave no process behind for the next test
    throw err;
  }
  return all;
}

/** Waits until every reflector lists every other as a peer (the project's one check, tools/reflector-child.ts). */
export { waitForFullMesh };

export async function stopAll(reflectors: ReflectorProcess[]): Promise<void> {
  await Promise.all(reflectors.map((r) => r.kill('SIGKILL')));
}

/**
 * Runs a CLI command to completion (for flag checks): exit code and output. The command gets the test
 * mesh key and a client token made with it (RMESH_TOKEN), so `rmesh client`/`proxy` can join.
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<Exit & { stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RMESH_CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...TEST_MESH_KEY_ENV, ...testClientTokenEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rmesh ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
