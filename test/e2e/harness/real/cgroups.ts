// The cgroup (v1) subtree the real-node cluster lives in: below the cgroup this test process runs in,
// so every kubelet, containerd and container stays inside what the machine gave the test. Each piece
// of the cluster gets its own child (a node's daemons, a node's pods), so stopping or reaping one is
// "kill every process in that subtree, then remove it" — nothing is found by name.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const cgroupFs = '/sys/fs/cgroup';

/** The v1 hierarchies mounted here (cpu, memory, pids, name=systemd, ...), by directory. */
export function hierarchies(): string[] {
  return readdirSync(cgroupFs)
    .map((name) => join(cgroupFs, name))
    .filter((dir) => dir !== join(cgroupFs, 'unified') && existsSync(join(dir, 'cgroup.procs')));
}

/**
 * This process's cgroup in the memory hierarchy (where the machine confines it); the cluster's cgroups
 * go below it. Fails on a cgroup v2-only machine, which the kubelet setup here does not cover.
 */
export function ownCgroup(): string {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:memory:/.test(l));
  if (!line) throw new Error('no cgroup v1 memory hierarchy (/proc/self/cgroup): the real-node cluster needs cgroup v1');
  return line.replace(/^\d+:memory:/, '').replace(/\/$/, '');
}

/** The cluster's root cgroup: one fixed name under this process's cgroup, so a later run can reap it. */
export function clusterCgroup(): string {
  return `${ownCgroup()}/rmesh-e2e`;
}

/** Creates `path` in every hierarchy (cpuset children inherit their parent's cpus and mems). */
export function makeCgroup(path: string): void {
  for (const h of hierarchies()) {
    let dir = h;
    for (const part of path.split('/').filter(Boolean)) {
      const parent = dir;
      dir = join(dir, part);
      if (!existsSync(dir)) mkdirSync(dir);
      if (h.endsWith('/cpuset')) {
        for (const file of ['cpuset.cpus', 'cpuset.mems']) {
          if (readFileSync(join(dir, file), 'utf8').trim() === '') writeFileSync(join(dir, file), readFileSync(join(parent, file)));
        }
      }
    }
  }
}

/** The cgroup.procs files of the memory hierarchy's `path` and all its descendants. */
function procsFiles(path: string): string[] {
  const top = join(cgroupFs, 'memory', path);
  if (!existsSync(top)) return [];
  const files: string[] = [];
  const walk = (dir: string): void => {
    files.push(join(dir, 'cgroup.procs'));
    for (const e of readdirSync(dir)) if (statSync(join(dir, e)).isDirectory()) walk(join(dir, e));
  };
  walk(top);
  return files;
}

/** The processes in `path` and below (memory hierarchy, where every cluster process is placed). */
export function cgroupPids(path: string): number[] {
  return procsFiles(path).flatMap((f) => {
    try {
      return readFileSync(f, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
}

/** SIGKILLs every process in `path` and below until none is left (or fails after `timeoutMs`). */
export async function killCgroup(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = cgroupPids(path);
    if (pids.length === 0) return;
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in cgroup ${path} survived SIGKILL for ${timeoutMs} ms`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes `path` and its descendants from every hierarchy (they must be empty: killCgroup first). */
export function removeCgroup(path: string): void {
  for (const h of hierarchies()) {
    const top = join(h, path);
    const remove = (dir: string): void => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir)) if (statSync(join(dir, e)).isDirectory()) remove(join(dir, e));
      rmdirSync(dir);
    };
    remove(top);
  }
}

/** The shell prefix that moves the shell into `path` (memory and pids hierarchies) before `exec`. */
export function joinCgroupCommand(path: string): string[] {
  const files = ['memory', 'pids'].map((h) => join(cgroupFs, h, path, 'cgroup.procs'));
  return ['sh', '-c', `echo $$ > ${files[0]} && echo $$ > ${files[1]} && exec "$@"`, 'sh'];
}
