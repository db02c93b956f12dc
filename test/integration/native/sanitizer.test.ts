// The native addon under AddressSanitizer and UBSan: a copy of reflector/native is built with the
// sanitizers (through install.js, as at install time, with CFLAGS/LDFLAGS) and sanitizer-stress.js
// drives it hard; any memory error or undefined behaviour aborts the process and fails the test. Then
// leak-stress.js drives the addon's error paths with LeakSanitizer on: no leak may come from our C.
// (ThreadSanitizer runs beside it in tsan.test.ts.)
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { copyNativeSources } from '../../support/native-copy.js';

const { root, native: work } = copyNativeSources('rmesh-native-asan-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runtime(name: string): string {
  const result = spawnSync(process.env.CC ?? 'cc', [`-print-file-name=${name}`], { encoding: 'utf8' });
  return result.stdout.trim();
}

const addon = join(work, 'build', 'Release', 'rmesh_mirror.node');
const preload = [runtime('libasan.so'), runtime('libubsan.so')];

beforeAll(() => {
  const flags = '-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all';
  const build = spawnSync(process.execPath, [join(work, 'install.js')], { encoding: 'utf8', env: { ...process.env, CFLAGS: flags, LDFLAGS: '-fsanitize=address,undefined' }, timeout: 180_000 });
  expect(`${build.stdout}${build.stderr}`).toMatch(/built for Node /);
  expect(preload.every((p) => existsSync(p)), `sanitizer runtimes ${preload.join(', ')}`).toBe(true);
}, 200_000);

it('survives table swaps under traffic, GSO bursts, malformed peer data and close without a sanitizer report', () => {
  const run = spawnSync(process.execPath, ['--expose-gc', join(import.meta.dirname, 'sanitizer-stress.js'), addon], {
    encoding: 'utf8',
    env: { ...process.env, LD_PRELOAD: preload.join(':'), ASAN_OPTIONS: 'detect_leaks=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
    timeout: 240_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  expect(output).not.toMatch(/AddressSanitizer|runtime error:/);
  expect(run.status, output).toBe(0);
  expect(output).toMatch(/round 2: received [1-9]/);
  expect(output).toMatch(/\bdone\n/);
});

/** The leaks LeakSanitizer reports whose memory our C allocated (frame #1 in reflector/native/src). */
function ourLeaks(output: string): string[] {
  return output
    .split(/\n(?=(?:Direct|Indirect) leak of )/)
    .filter((block) => /^(Direct|Indirect) leak of /.test(block))
    .filter((block) => /^\s*#1 .* (\.\.\/)?src\/[\w-]+\.c:\d+/m.test(block));
}

it('leaks nothing on its error paths: tables that throw or are refused, open() refused', () => {
  const run = spawnSync(process.execPath, ['--expose-gc', join(import.meta.dirname, 'leak-stress.js'), addon], {
    encoding: 'utf8',
    env: { ...process.env, LD_PRELOAD: preload.join(':'), ASAN_OPTIONS: 'detect_leaks=1', UBSAN_OPTIONS: 'print_stacktrace=1' },
    timeout: 120_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  expect(output).toMatch(/thrown 400 of 400\n/);
  expect(output).toMatch(/\bdone\n/);
  // Node itself leaves a few allocations at exit (its OpenSSL, the live engine's external): not ours.
  expect(ourLeaks(output).join('\n')).toBe('');
});
