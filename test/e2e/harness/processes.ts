// Long-lived child processes of the e2e harness (etcd, kube-apiserver, controllers, kubelets, containerd): each in
// its own process group so a stop reaches its children too, and none outlives the test process — not
// even when a test fails or the test process is killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, closeSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ManagedProcessOptions {
  /** What the process is, for messages. */
  name: string;
  command: string;
  args: string[];
  /** The process's whole environment (nothing is inherited). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One child process, leader of its own process group. */
export class ManagedProcess {
  readonly name: string;
  /** What it was started with (to start the same command again). */
  readonly options: ManagedProcessOptions;
  readonly logFile: string;
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private exit: Exit | undefined;

  constructor(options: ManagedProcessOptions) {
    this.options = options;
    this.name = options.name;
    this.logFile = options.logFile;
    const log = openSync(options.logFile, 'a');
    try {
      this.child = spawn(options.command, options.args, {
        env: options.env,
        cwd: options.cwd,
        stdio: ['ignore', log, log],
        detached: true,
      });
    } finally {
      closeSync(log);
    }
    const pid = this.child.pid;
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        if (pid !== undefined) reaper.forget(pid);
        resolve(this.exit);
      });
      // A command that cannot start (ENOENT) never emits 'exit' with a pid; report it as an exit.
      this.child.once('error', (err) => {
        appendFileSync(options.logFile, `\n[harness] cannot start ${options.command}: ${err.message}\n`);
        this.exit ??= { code: 127, signal: null };
        resolve(this.exit);
      });
    });
    if (pid !== undefined) reaper.watch(pid);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined && this.child.pid !== undefined;
  }

  /** Sends a signal to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves when the process has exited. */
  async stop(graceMs: number): Promise<Exit> {
    if (!this.running) return this.exited;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      // Children that ignored SIGTERM and outlived their leader still get killed.
      if (this.child.pid !== undefined) {
        try {
          process.kill(-this.child.pid, 'SIGKILL');
        } catch {
          // Nothing left.
        }
      }
    }
  }
}

/**
 * Kills every process group the harness started when the test process goes away: synchronously on a
 * normal exit, and from a detached watchdog shell when the test process is killed outright.
 */
class Reaper {
  private readonly groups = new Set<number>();
  private registry: string | undefined;

  watch(pgid: number): void {
    this.groups.add(pgid);
    this.ensureWatchdog();
    this.save();
  }

  forget(pgid: number): void {
    this.groups.delete(pgid);
    this.save();
  }

  private save(): void {
    if (this.registry) writeFileSync(this.registry, [...this.groups].join('\n') + '\n');
  }

  private ensureWatchdog(): void {
    if (this.registry) return;
    this.registry = join(mkdtempSync(join(tmpdir(), 'rmesh-e2e-reaper-')), 'process-groups');
    writeFileSync(this.registry, '');
    process.once('exit', () => {
      for (const pgid of this.groups) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    });
    const script =
      'while kill -0 "$1" 2>/dev/null; do sleep 1; done; ' +
      'while read -r g; do [ -n "$g" ] && kill -KILL -- "-$g" 2>/dev/null; done < "$2"; rm -rf "$(dirname "$2")"';
    const watchdog = spawn('bash', ['-c', script, 'rmesh-e2e-reaper', String(process.pid), this.registry], {
      detached: true,
      stdio: 'ignore',
    });
    watchdog.unref();
  }
}

const reaper = new Reaper();
