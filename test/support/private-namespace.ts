// A test file that joins its own process to a test network (TestNetwork.attachCaller) must run in a
// network namespace with nothing but loopback, which the machine's root namespace is not. Such a file
// calls rerunInPrivateNamespace first: in the root namespace it registers one test that runs the file
// again inside a fresh private namespace, and passes when that run passes.
import { spawnSync } from 'node:child_process';
import { basename, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './reflector-process.js';
import { callerInterfaces } from './test-hosts.js';

/** Set in the run inside the private namespace: it must never start another. */
const NESTED = 'RMESH_PRIVATE_NAMESPACE_RUN';

/** True in the second run of a file, the one inside the private namespace. */
export function inPrivateNamespaceRun(): boolean {
  return process.env[NESTED] === '1';
}

/**
 * True when this process is in a namespace with interfaces of its own and the test that re-runs `file`
 * was registered (register nothing else then); false when the file's own tests should be registered.
 */
export function rerunInPrivateNamespace(file: string, timeoutMs: number): boolean {
  if (callerInterfaces().length === 0) return false;
  describe(basename(file), () => {
    it('passes in a private network namespace of its own', () => {
      if (inPrivateNamespaceRun()) throw new Error(`the private namespace has interfaces besides loopback (${callerInterfaces().join(', ')})`);
      const namespace = `rmt-rerun-${process.pid}`;
      spawnSync('ip', ['netns', 'add', namespace]);
      try {
        spawnSync('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
        const project = relative(REPO_ROOT, file).startsWith('test/e2e/') ? 'e2e' : 'integration';
        const vitest = [process.execPath, 'node_modules/vitest/vitest.mjs', 'run', '--project', project, file];
        const run = spawnSync('ip', ['netns', 'exec', namespace, ...vitest], { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, [NESTED]: '1' } });
        expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      } finally {
        spawnSync('ip', ['netns', 'del', namespace]);
      }
    }, timeoutMs + 10_000);
  });
  return true;
}
