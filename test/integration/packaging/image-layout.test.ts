// The image's two stages, checked without a Docker engine. Build: the build context (.dockerignore
// applied) compiles on its own with `tsc -p tsconfig.build.json`, so no source the build needs is left
// out. Runtime: the files its COPY lines name (read from the Dockerfile, not restated here) are
// assembled from that build (the addon and node_modules from this checkout's `npm ci`), development
// dependencies pruned as the build stage prunes them, and the CLI runs from there: `rmesh --version`,
// `rmesh operator --print-crd` and a reflector on the native data plane loaded from the copied addon.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextFiles } from './docker-context.js';
import { ROOT } from './tools.js';
import { TEST_MESH_KEY_ENV } from '../../support/reflector-process.js';
import { terminate } from '../../support/child-process.js';
import { freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';

const ADDRESS = '127.0.6.3';
const ADDON = join('reflector', 'native', 'build', 'Release', 'rmesh_mirror.node');

interface Copy {
  /** Path in the build stage's /app (or the build context), relative. */
  from: string;
  /** Path in the runtime stage's /app, relative. */
  to: string;
}

/** The runtime stage's COPY instructions, relative to WORKDIR /app. */
function runtimeCopies(): Copy[] {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = dockerfile.slice(dockerfile.search(/^FROM \S+ AS runtime$/m));
  expect(runtime).toMatch(/^WORKDIR \/app$/m);
  const copies: Copy[] = [];
  for (const [, from = '', to = ''] of runtime.matchAll(/^COPY (?:--from=build )?(\S+) (\S+)$/gm)) {
    const source = from.replace(/^\/app\//, '');
    copies.push({ from: source, to: to === './' ? source : to.endsWith('/') && !source.endsWith('/') ? join(to, source.split('/').pop() ?? '') : to });
  }
  return copies;
}

let work: string;
let context: string;
let app: string;
let reflector: ChildProcess | undefined;
let log = '';

/** The build stage: the context alone, with the dependencies `npm ci` installed, compiles. */
function buildFromContext(): void {
  for (const file of contextFiles()) {
    mkdirSync(dirname(join(context, file)), { recursive: true });
    cpSync(join(ROOT, file), join(context, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(context, 'node_modules'));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: context, encoding: 'utf8' });
  if (tsc.status !== 0) throw new Error(`the Docker build context does not compile (is a source folder missing from .dockerignore's whitelist?):\n${tsc.stdout}${tsc.stderr}`);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rmesh-image-'));
  context = join(work, 'context');
  app = join(work, 'app');
  mkdirSync(context);
  mkdirSync(app);
  buildFromContext();
  const copies = runtimeCopies();
  expect(copies.map((c) => c.from)).toEqual(expect.arrayContaining(['package.json', 'node_modules/', 'dist/', ADDON, 'crds/']));
  for (const { from, to } of copies) {
    // What the build stage made is in the context build; the addon and node_modules come from `npm ci`.
    const built = join(context, from);
    const source = existsSync(built) && !from.startsWith('node_modules') ? built : join(ROOT, from);
    if (!existsSync(source)) throw new Error(`the runtime stage copies ${from}, which neither the context build nor \`npm ci\` made`);
    mkdirSync(dirname(join(app, to)), { recursive: true });
    cpSync(source, join(app, to), { recursive: true });
  }
  // The build stage runs `npm prune --omit=dev` before the copy: do the same (it needs the lock file,
  // which the runtime stage does not copy, so it goes again afterwards).
  cpSync(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
  const prune = spawnSync('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund', '--offline', '--ignore-scripts'], { cwd: app, encoding: 'utf8' });
  if (prune.status !== 0) throw new Error(`npm prune --omit=dev failed:\n${prune.stderr}`);
  rmSync(join(app, 'package-lock.json'));
  expect(existsSync(join(app, 'node_modules', 'vitest'))).toBe(false);
}, 300_000);

afterAll(async () => {
  await terminate(reflector, 10_000);
  if (work) rmSync(work, { recursive: true, force: true });
});

function rmesh(args: string[]) {
  return spawnSync(process.execPath, [join(app, 'dist', 'cli', 'rmesh.js'), ...args], { cwd: '/', encoding: 'utf8', env: { PATH: process.env.PATH, NODE_ENV: 'production' } });
}

describe('the runtime stage of the image', () => {
  it('runs the CLI with production dependencies only', () => {
    const result = rmesh(['--version']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('`rmesh operator --print-crd` prints the CRD the image ships', () => {
    const result = rmesh(['operator', '--print-crd']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(readFileSync(join(app, 'crds', 'rmesh.io_reflectormeshes.yaml'), 'utf8'));
  });

  it('a reflector serves from it, on the native data plane when the addon was built', async () => {
    // The image build fails when the addon does not build (the Dockerfile checks), so in the image the
    // native data plane is always there; a checkout may lack it (it is optional for `npm ci`).
    const native = existsSync(join(app, ADDON));
    const [dataPort, controlPort] = await freePorts(2);
    reflector = spawn(
      process.execPath,
      [join(app, 'dist', 'cli', 'rmesh.js'), 'reflector', '--address', ADDRESS, '--data-port', String(dataPort), '--control-port', String(controlPort), '--data-plane', native ? 'native' : 'js'],
      { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, NODE_ENV: 'production', ...TEST_MESH_KEY_ENV } },
    );
    reflector.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    reflector.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const child = reflector;
    const ready = await waitFor(() => fetch(`http://${ADDRESS}:${controlPort}/readyz`).then((r) => r.ok, () => false), {
      what: 'the reflector of the image to be ready',
      timeoutMs: 30_000,
      intervalMs: 100,
      giveUpIf: () => (child.exitCode !== null ? `rmesh reflector exited ${child.exitCode}:\n${log}` : undefined),
    }).catch(() => false);
    expect(ready, log).toBe(true);
    expect(log).not.toContain('native data plane unavailable');
  });
});
