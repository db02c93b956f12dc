// The e2e toolchain's locks (test/e2e/toolchain/lock.sh), with real bash processes and real flock: the
// background preparation and a test's own build.sh or images.sh must never build the same thing side by
// side, a waiter must say what it waits for and how far the other got, and a second background
// preparation must not start at all.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { terminate } from '../../support/child-process.js';
import { REPO_ROOT } from '../../support/reflector-process.js';
import { sleep, waitFor } from '../../support/wait.js';

const toolchainDir = join(REPO_ROOT, 'test/e2e/toolchain');
const dir = mkdtempSync(join(tmpdir(), 'rmesh-lock-'));
const children: ChildProcess[] = [];

/** A bash that sources lock.sh, takes FILE's lock as `what`, says "got it" and runs `then`; its output collected. */
function lockTaker(file: string, what: string, then: string, env: Record<string, string> = {}) {
  const script = `log() { printf '%s\\n' "$*" >&2; }; source "${toolchainDir}/lock.sh"; hold_lock "${file}" "${what}"; echo "got it" >&2; ${then}`;
  const child = spawn('bash', ['-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, exited, output: () => output };
}

afterAll(async () => {
  await Promise.all(children.map((c) => terminate(c, 1000)));
  rmSync(dir, { recursive: true, force: true });
});

describe('the e2e toolchain locks', () => {
  it('a second taker waits for the holder, says who it is and how far it got, then takes the lock', async () => {
    const lock = join(dir, 'helm.lock');
    const holderLog = join(dir, 'prepare.log');
    writeFileSync(holderLog, '[e2e-toolchain] building helm\n');
    const release = join(dir, 'release');
    const holder = lockTaker(lock, 'build of helm', `until [ -e "${release}" ]; do sleep 0.1; done`, { RMESH_E2E_PREPARE_LOG: holderLog });
    await waitFor(() => holder.output().includes('got it'), { what: 'the holder to take the lock', timeoutMs: 10_000 });

    const waiter = lockTaker(lock, 'build of helm', 'true', { RMESH_E2E_LOCK_REPORT_SECONDS: '1' });
    await waitFor(() => waiter.output().includes('still waiting'), { what: 'the waiter to report progress', timeoutMs: 10_000 });
    appendFileSync(holderLog, '[e2e-toolchain]   helm: 812/1000 packages\n');
    await waitFor(() => waiter.output().includes('812/1000'), { what: "the waiter to report the holder's last line", timeoutMs: 10_000 });
    expect(waiter.output()).toContain(`waiting for another build of helm, pid ${holder.child.pid}, output in ${holderLog}`);
    expect(waiter.output()).not.toContain('got it');

    writeFileSync(release, '');
    expect(await holder.exited).toBe(0);
    expect(await waiter.exited).toBe(0);
    expect(waiter.output()).toContain('got it');
  });

  it('a holder killed mid-build frees the lock at once (the kernel drops it with the process)', async () => {
    const lock = join(dir, 'etcd.lock');
    const holder = lockTaker(lock, 'build of etcd', 'sleep 600');
    await waitFor(() => holder.output().includes('got it'), { what: 'the holder to take the lock', timeoutMs: 10_000 });
    const waiter = lockTaker(lock, 'build of etcd', 'true', { RMESH_E2E_LOCK_REPORT_SECONDS: '1' });
    await waitFor(() => waiter.output().includes('waiting for another build of etcd'), { what: 'the waiter to wait', timeoutMs: 10_000 });
    holder.child.kill('SIGKILL');
    expect(await waiter.exited).toBe(0);
    expect(waiter.output()).toContain('got it');
    // A terminal run has no log a waiter could read: it says so rather than print nothing.
    expect(waiter.output()).toContain('output in its terminal');
  });

  it('refuses a report interval that is not a whole number of seconds, before taking the lock', async () => {
    const lock = join(dir, 'kubelet.lock');
    for (const bad of ['1m', '0', '00', '-5', '2.5', '60s', ' 5']) {
      const taker = lockTaker(lock, 'build of kubelet', 'true', { RMESH_E2E_LOCK_REPORT_SECONDS: bad });
      expect(await taker.exited, `RMESH_E2E_LOCK_REPORT_SECONDS='${bad}'`).toBe(2);
      expect(taker.output()).toContain(`RMESH_E2E_LOCK_REPORT_SECONDS must be a whole number of seconds above 0 (how often a waiter reports), not '${bad}'`);
      expect(taker.output()).not.toContain('got it');
    }
  });

  it('a second background preparation exits at once while one is under way, building nothing', async () => {
    const cache = join(dir, 'cache');
    mkdirSync(cache);
    // A stand-in for the preparation under way: it holds prepare.sh's lock.
    const held = lockTaker(join(cache, 'prepare.lock'), 'preparation', 'sleep 600');
    await waitFor(() => held.output().includes('got it'), { what: 'the stand-in to take the lock', timeoutMs: 10_000 });
    // Its own process group and caches in the test's directory: should the guard ever fail, the build it
    // starts (go builds, a dockerd) is found and killed with the group, and writes nothing elsewhere.
    const second = spawn('bash', [join(toolchainDir, 'prepare.sh'), '--background'], {
      env: { ...process.env, RMESH_E2E_CACHE: cache, RMESH_TOOLCHAIN_DIR: join(dir, 'toolchain') },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let output = '';
    second.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => second.on('exit', resolve));
    const code = await Promise.race([exited, sleep(10_000).then(() => 'still running after 10 s')]);
    try {
      expect(code).toBe(0);
      expect(output).toContain('another preparation is under way');
      expect(output).not.toContain('building the e2e toolchain');
    } finally {
      try {
        process.kill(-second.pid!, 'SIGKILL');
      } catch {
        // the group is gone: nothing was started
      }
    }
  });
});
