// Helpers for the client tools' integration tests: run `rmesh client` to completion and parse its JSON
// report, and run `rmesh proxy` (or any program) in the background with its output kept.
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT, RMESH_CLI, runCli, waitFor } from '../../support/reflector-process.js';
import type { ClientReport } from '../../../reflector/tools/generator/report.js';

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

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  static rmesh(args: string[]): Background {
    return new Background(process.execPath, [RMESH_CLI, ...args]);
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
