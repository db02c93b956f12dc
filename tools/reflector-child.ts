// The one runner of `rmesh reflector` child processes, for the demo, the benchmarks and (through
// test/support/reflector-process.ts) the tests: spawns the built CLI (in a network namespace if asked),
// keeps its output, waits until it serves, stops it (SIGTERM, then SIGKILL) and kills what is left
// when this process exits. waitForFullMesh is the one "every reflector lists every other as a peer".
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

/** The built CLI (dist/cli/rmesh.js), beside this file's dist/tools/. */
export const BUILT_RMESH_CLI = fileURLToPath(new URL('../cli/rmesh.js', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** The CLI's arguments, from "reflector" on. */
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Runs it in this named network namespace through `ip netns exec` (which execs: signals reach the reflector). */
  netns?: string;
  /** The CLI to run (default: the built one beside this file). */
  cli?: string;
  cwd?: string;
  /** Keep only the last this many lines of output (default: all). */
  keepLines?: number;
}

/** Every live child, so a last-chance handler can kill what an exception left behind. */
const live = new Set<ChildProcess>();
let cleanupInstalled = false;

function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export class ReflectorChild {
  /** Its output, line by line (the last `keepLines` if set). */
  readonly output: string[] = [];
  readonly exited: Promise<Exit>;
  exit: Exit | undefined;
  readonly child: ChildProcess;

  constructor(options: SpawnOptions) {
    const command = [process.execPath, options.cli ?? BUILT_RMESH_CLI, ...options.args];
    const [file, ...argv] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...command] : command;
    this.child = spawn(file!, argv, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(this.child);
    const collect = (chunk: Buffer): void => {
      this.output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (options.keepLines !== undefined && this.output.length > options.keepLines) this.output.splice(0, this.output.length - options.keepLines);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** "exit code N" or "signal S", once it exited. */
  get exitDescription(): string | undefined {
    if (!this.exit) return undefined;
    return this.exit.signal ? `signal ${this.exit.signal}` : `exit code ${this.exit.code}`;
  }

  /**
   * Waits until `healthUrl` answers 200 (and, if `startedLine` is given, a line of output matched it
   * first: a stray process on the same address cannot answer in its place). Rejects with its last
   * output if it exits first or does not serve in time; it is then killed.
   */
  async waitServing(name: string, healthUrl: string, options: { timeoutMs: number; startedLine?: RegExp; intervalMs?: number }): Promise<void> {
    const started = () => !options.startedLine || this.output.some((line) => options.startedLine!.test(line));
    try {
      await waitFor(async () => started() && (await fetch(healthUrl, { signal: AbortSignal.timeout(3000) })).ok, {
        what: `reflector ${name} to serve ${healthUrl}`,
        timeoutMs: options.timeoutMs,
        intervalMs: options.intervalMs ?? 50,
        giveUpIf: () => (this.exit ? `it stopped during startup (${this.exitDescription})` : undefined),
      });
    } catch (err) {
      await this.kill();
      throw new Error(`${(err as Error).message}:\n${this.output.slice(-20).join('\n')}`, { cause: err });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    if (!this.exit) this.child.kill(signal);
    return this.exited;
  }

  /** SIGTERM (the reflector drains and leaves), then SIGKILL if it has not exited within `graceMs` (0: SIGKILL at once). */
  async stop(graceMs: number): Promise<Exit> {
    if (this.exit) return this.exit;
    if (graceMs > 0) {
      this.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
      const first = await Promise.race([this.exited, timeout]);
      clearTimeout(timer);
      if (first !== 'timeout') return first;
    }
    return this.kill('SIGKILL');
  }
}

/** A mesh member as waitForFullMesh sees it: its id and the ids of the peers it lists. */
export interface MeshMember {
  readonly id: string;
  peerIds(): Promise<string[]>;
}

/** Waits until every reflector lists every other as a peer. */
export async function waitForFullMesh(reflectors: MeshMember[], timeoutMs = 10_000): Promise<void> {
  await waitFor(
    async () => {
      for (const r of reflectors) {
        const ids = new Set(await r.peerIds());
        if (!reflectors.every((o) => o === r || ids.has(o.id))) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 100, what: `a full mesh of ${reflectors.length} reflectors` },
  );
}
