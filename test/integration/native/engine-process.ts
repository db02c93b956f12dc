// Starts engine-child.js (an engine in its own process) and talks to it: see that file.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EngineCounters, ForwardingTable } from '../../../reflector/mirror/engine.js';
import { ENGINE_ADDRESS } from './harness.js';

export interface EngineChild {
  child: ChildProcessWithoutNullStreams;
  counters: () => Promise<EngineCounters>;
  /** Resumes (if stopped) and kills the child. */
  kill: () => void;
}

/** Resolves once the child serves `table` on ENGINE_ADDRESS:dataPort; rejects with its stderr if it exits first. */
export async function startEngineChild(kind: 'native' | 'js', dataPort: number, table: ForwardingTable, opts: { socketBufferBytes?: number; env?: NodeJS.ProcessEnv } = {}): Promise<EngineChild> {
  const args = [join(import.meta.dirname, 'engine-child.js'), kind, ENGINE_ADDRESS, String(dataPort), JSON.stringify(table)];
  if (opts.socketBufferBytes !== undefined) args.push(String(opts.socketBufferBytes));
  const child = spawn(process.execPath, args, { env: opts.env ?? process.env });
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(line));
  const next = (): Promise<string> => new Promise((resolve) => waiting.push(resolve));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const ready = await Promise.race([next(), new Promise<string>((resolve) => child.once('exit', () => resolve(`exited: ${stderr}`)))]);
  if (ready !== 'ready') throw new Error(`the engine child did not start: ${ready}`);
  return {
    child,
    counters: async () => {
      const reply = next();
      child.stdin.write('counters\n');
      return JSON.parse(await reply) as EngineCounters;
    },
    kill: () => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    },
  };
}
