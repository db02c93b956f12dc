// ThreadSanitizer beside the ASan/UBSan run (sanitizer.test.ts), twice:
// - tsan-harness.c: the packet loop alone, every thread instrumented: two port threads under traffic, a
//   table publisher and a scraper thread that reads the counters as JavaScript does (V8's reads of the
//   Float64Array are invisible to ThreadSanitizer). Counters written as plain doubles were a race here.
// - the whole addon, built with -fsanitize=thread through install.js, inside Node (the runtime
//   preloaded) under sanitizer-stress.js: table swaps, control hand-off and close from the JavaScript
//   thread against both packet threads. Node's own code is not instrumented and V8's worker threads
//   draw reports through the allocator; only reports with a frame in our C count.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { copyNativeSources } from '../../support/native-copy.js';

const { root, native: work } = copyNativeSources('rmesh-native-tsan-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CC = process.env.CC ?? 'cc';
const runtime = spawnSync(CC, ['-print-file-name=libtsan.so'], { encoding: 'utf8' }).stdout.trim();
/** The packet loop's sources: everything but the N-API glue. */
const GLUE = new Set(['addon.c', 'control.c', 'js-table.c', 'js-values.c', 'sockets.c']);

/** ThreadSanitizer reports with a frame in our C (reflector/native/src). */
function ourReports(output: string): string[] {
  return output
    .split(/^==================$/m)
    .filter((block) => block.includes('WARNING: ThreadSanitizer'))
    .filter((block) => /(\.\.\/)?src\/[\w-]+\.c:\d+|tsan-harness\.c:\d+/.test(block));
}

it('finds no data race in the packet loop with a scraper reading every counter', () => {
  const src = join(work, 'src');
  const sources = readdirSync(src).filter((f) => f.endsWith('.c') && !GLUE.has(f)).map((f) => join(src, f));
  const binary = join(root, 'tsan-harness');
  const build = spawnSync(CC, ['-std=gnu11', '-O1', '-g', '-fsanitize=thread', `-I${src}`, '-o', binary, join(import.meta.dirname, 'tsan-harness.c'), ...sources, '-lcrypto', '-lpthread'], { encoding: 'utf8' });
  expect(build.status, `${build.stdout}${build.stderr}`).toBe(0);
  const run = spawnSync(binary, ['20000'], { encoding: 'utf8', env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=0' }, timeout: 120_000 });
  const output = `${run.stdout}${run.stderr}`;
  expect(output).not.toMatch(/ThreadSanitizer/);
  expect(output).toMatch(/^done [1-9]\d* [1-9]\d*$/m);
  expect(run.status, output).toBe(0);
});

it('finds no data race in the addon inside Node under table swaps, traffic and close', () => {
  expect(existsSync(runtime), `ThreadSanitizer runtime ${runtime}`).toBe(true);
  const build = spawnSync(process.execPath, [join(work, 'install.js')], {
    encoding: 'utf8',
    env: { ...process.env, CFLAGS: '-O1 -g -fsanitize=thread', LDFLAGS: '-fsanitize=thread' },
    timeout: 180_000,
  });
  expect(`${build.stdout}${build.stderr}`).toMatch(/built for Node /);
  const addon = join(work, 'build', 'Release', 'rmesh_mirror.node');
  const run = spawnSync(process.execPath, ['--expose-gc', join(import.meta.dirname, 'sanitizer-stress.js'), addon, '2'], {
    encoding: 'utf8',
    env: { ...process.env, LD_PRELOAD: runtime, TSAN_OPTIONS: 'halt_on_error=0 report_signal_unsafe=0' },
    timeout: 240_000,
  });
  const output = `${run.stdout}${run.stderr}`;
  expect(output).toMatch(/round 1: received [1-9]/);
  expect(output).toMatch(/\bdone\n/);
  expect(ourReports(output).join('\n')).toBe('');
}, 300_000);
