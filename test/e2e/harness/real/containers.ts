// What a real container is, read from the host's /proc: the processes of a pod's container (found in
// the node's pod cgroups by pod UID and container ID), and the confinement the kernel applies to them —
// user, capabilities, seccomp, no_new_privs, a read-only root, the network namespace, loaded libraries.
// These are the facts the scenarios assert, not what the pod spec asked for.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { cgroupPids } from './cgroups.js';

/** The memory-hierarchy cgroup of `pod`'s container `container` below `podsCgroup`, if it exists. */
function containerCgroup(podsCgroup: string, pod: V1Pod, container: string): string | undefined {
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const id = status?.containerID?.replace(/^[a-z]+:\/\//, '');
  const uid = pod.metadata?.uid;
  if (!id || !uid) return undefined;
  const root = join('/sys/fs/cgroup/memory', podsCgroup);
  const find = (dir: string, depth: number): string | undefined => {
    if (depth > 4 || !existsSync(dir)) return undefined;
    for (const e of readdirSync(dir)) {
      const child = join(dir, e);
      if (!statSync(child).isDirectory()) continue;
      if (e === `pod${uid}` && existsSync(join(child, id))) return join(child, id);
      const found = find(child, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  const dir = find(root, 0);
  return dir?.slice('/sys/fs/cgroup/memory'.length);
}

/** The host PIDs of the container's processes (the first is its main process, in practice). */
export function containerPids(podsCgroup: string, pod: V1Pod, container: string): number[] {
  const cg = containerCgroup(podsCgroup, pod, container);
  if (!cg) throw new Error(`no cgroup for container ${container} of pod ${pod.metadata?.name} under ${podsCgroup}`);
  return cgroupPids(cg).sort((a, b) => a - b);
}

export interface Confinement {
  uid: number[];
  gid: number[];
  capEff: string;
  capBnd: string;
  seccompMode: number;
  noNewPrivs: boolean;
  rootReadOnly: boolean;
  netns: number;
  mappedFiles: string[];
  cmdline: string[];
}

/** What the kernel says of process `pid`. */
export function confinement(pid: number): Confinement {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  // mountinfo: "id parent major:minor root mountpoint options ..."; the container's "/" as it sees it.
  const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[4] === '/');
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter((f) => f.startsWith('/'));
  return {
    uid: field('Uid').split(/\s+/).map(Number),
    gid: field('Gid').split(/\s+/).map(Number),
    capEff: field('CapEff'),
    capBnd: field('CapBnd'),
    seccompMode: Number(field('Seccomp')),
    noNewPrivs: field('NoNewPrivs') === '1',
    rootReadOnly: (rootMount?.[5] ?? '').split(',').includes('ro'),
    netns: statSync(`/proc/${pid}/ns/net`).ino,
    mappedFiles: [...new Set(maps)],
    cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean),
  };
}

/** The inode of a network namespace file (what /proc/<pid>/ns/net of a process inside it has). */
export const netnsInode = (path: string): number => statSync(path).ino;

