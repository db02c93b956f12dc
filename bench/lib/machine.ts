// The machine a run came from: what docs/performance.md and every result file state beside the figures.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
}

export function machine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpuModel = line.split(':')[1]!.trim();
  } catch {
    // not Linux: os.cpus() has the model
  }
  return { cpus: cpus().length, cpuModel, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, os: `${type()} ${release()}` };
}
