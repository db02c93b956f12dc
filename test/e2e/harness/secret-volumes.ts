// Secret volumes as the kubelet gives them, for the simulated kubelet: each Secret volume a container
// mounts is a directory of files (one per key), rewritten in place when the Secret changes (each file
// by rename, as the kubelet swaps a symlink), and a path under its mountPath in the container's
// environment is made to point into that directory (the processes share the host's filesystem).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1Pod, V1Secret } from '@kubernetes/client-node';
import { ContainerConfigError } from './container-env.js';

/** How often a running pod's volumes are compared with their Secrets (the kubelet's sync period, shortened). */
export const VOLUME_SYNC_MS = 2000;

export class SecretVolumes {
  private readonly synced = new Map<string, number>();

  constructor(
    private readonly secret: (namespace: string, name: string) => Promise<V1Secret | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Writes the container's Secret volumes under `dir`; returns mountPath -> directory. A missing Secret is a ContainerConfigError. */
  async mount(pod: V1Pod, container: V1Container, dir: string): Promise<Map<string, string>> {
    const mounts = new Map<string, string>();
    for (const m of container.volumeMounts ?? []) {
      const name = pod.spec?.volumes?.find((v) => v.name === m.name)?.secret?.secretName;
      if (!name) continue;
      const target = join(dir, 'volumes', m.name);
      if (!(await this.write(pod, name, target))) throw new ContainerConfigError(`secret "${name}" not found (volume ${m.name})`);
      mounts.set(m.mountPath, target);
    }
    return mounts;
  }

  /** Rewrites the pod's Secret volumes from their Secrets, at most every VOLUME_SYNC_MS. */
  async refresh(pod: V1Pod, dir: string): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const last = this.synced.get(uid) ?? 0;
    if (this.now() - last < VOLUME_SYNC_MS) return;
    this.synced.set(uid, this.now());
    for (const v of pod.spec?.volumes ?? []) if (v.secret?.secretName) await this.write(pod, v.secret.secretName, join(dir, 'volumes', v.name));
  }

  forget(pod: V1Pod): void {
    this.synced.delete(pod.metadata?.uid ?? '');
  }

  /** Environment values under a mount point, pointed into the mount's directory. */
  static remap(vars: Map<string, string>, mounts: ReadonlyMap<string, string>): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, value] of vars) {
      let v = value;
      for (const [path, target] of mounts) if (value === path || value.startsWith(`${path}/`)) v = `${target}${value.slice(path.length)}`;
      out.set(k, v);
    }
    return out;
  }

  private async write(pod: V1Pod, name: string, target: string): Promise<boolean> {
    const secret = await this.secret(pod.metadata?.namespace ?? 'default', name);
    if (!secret) return false;
    mkdirSync(target, { recursive: true });
    for (const [key, b64] of Object.entries(secret.data ?? {})) {
      const bytes = Buffer.from(b64, 'base64');
      const file = join(target, key);
      let old: Buffer | undefined;
      try {
        old = readFileSync(file);
      } catch {
        old = undefined;
      }
      if (old?.equals(bytes)) continue;
      writeFileSync(`${file}.tmp`, bytes);
      renameSync(`${file}.tmp`, file);
    }
    return true;
  }
}
