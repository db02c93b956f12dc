// Helpers for the client tools' integration tests: run `rmesh client` to completion and parse its JSON
// report, and run `rmesh proxy` (or any program) in the background with its output kept.
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT, RMESH_CLI, runCli, waitFor, type ReflectorProcess } from '../../support/reflector-process.js';
import type { ClientReport } from '../../../tools/generator/report.js';
import { testClientTokenEnv } from '../../support/client-tokens.js';

/** Runs `rmesh client ... --report json`; fails with its output unless it exits 0 with one JSON document. */
export async function runClient(args: string[], timeoutMs = 60_000): Promise<ClientReport> {
  const result = await runCli(['client', '--report', 'json', '--no-progress', ...args], {}, timeoutMs);
  if (result.code !== 0) throw new Error(`rmesh client ${args.join(' ')} exited ${result.code}:\n${result.stderr}\n${result.stdout}`);
  try {
    return JSON.parse(result.stdout) as ClientReport;
  } catch {
    throw new Error(`rmesh client printed no JSON document:\n${result.stdout}\n${result.stderr}`);
  }
}

/** A background process with its output kept, e.g. `rmesh proxy` or ffmpeg. */
export class Background {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: Record<string, string> = {}) {
    this.child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** `rmesh ARGS` with a client token for the test mesh key (RMESH_TOKEN), unless `env` sets another. */
  static rmesh(args: string[], env: Record<string, string> = {}): Background {
    return new Background(process.execPath, [RMESH_CLI, ...args], { ...testClientTokenEnv(), ...env });
  }

  async waitForStderr(pattern: RegExp, timeoutMs = 15_000): Promise<void> {
    await waitFor(() => pattern.test(this.stderr), { timeoutMs, what: `${pattern} in the output of ${String(this.child.spawnargs.slice(0, 3).join(' '))}:\n${this.stderr}` });
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** Starts `rmesh client` for a long time; `finishClient` ends it with SIGINT (Ctrl-C) and reads its report. */
export function startClient(args: string[]): Background {
  return Background.rmesh(['client', '--report', 'json', '--no-progress', '--duration', '10m', ...args]);
}

/** Ctrl-C: the client stops sending, lingers, prints its report and exits 0. */
export async function finishClient(client: Background): Promise<ClientReport> {
  const code = await client.stop('SIGINT');
  if (code !== 0) throw new Error(`rmesh client exited ${code} after SIGINT:\n${client.stderr}\n${client.stdout}`);
  try {
    return JSON.parse(client.stdout) as ClientReport;
  } catch {
    throw new Error(`rmesh client printed no JSON document:\n${client.stdout}\n${client.stderr}`);
  }
}

interface StatusClient {
  clientId: string;
  name?: string;
  state: string;
}

/**
 * Waits until a client is active at one of `reflectors`: the one called `name`, or with that client id
 * (a client admitted on another reflector's behalf, or migrated, may be listed without its name).
 */
export async function activeClient(reflectors: ReflectorProcess[], nameOrId: string, timeoutMs = 30_000): Promise<{ reflector: ReflectorProcess; clientId: string }> {
  let found: { reflector: ReflectorProcess; clientId: string } | undefined;
  await waitFor(
    async () => {
      for (const reflector of reflectors) {
        if (reflector.exit) continue;
        const { clients } = (await reflector.status()) as { clients: StatusClient[] };
        const client = clients.find((c) => (c.name === nameOrId || c.clientId === nameOrId) && c.state === 'active');
        if (client) {
          found = { reflector, clientId: client.clientId };
          return true;
        }
      }
      return false;
    },
    { timeoutMs, what: `client ${nameOrId} active at one of ${reflectors.map((r) => r.id).join(', ')}` },
  );
  return found!;
}

/** Waits until `count` clients in all are active at `reflectors`. */
export async function activeClients(reflectors: ReflectorProcess[], count: number, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      let n = 0;
      for (const reflector of reflectors) {
        if (reflector.exit) continue;
        const { clients } = (await reflector.status()) as { clients: StatusClient[] };
        n += clients.filter((c) => c.state === 'active').length;
      }
      return n === count;
    },
    { timeoutMs, what: `${count} active clients at ${reflectors.map((r) => r.id).join(', ')}` },
  );
}
