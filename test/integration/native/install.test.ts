// The install-time build of the native addon, run on a copy of reflector/native: when the compiler is
// missing the install still succeeds and says why (the reflector then runs the TypeScript engine); with
// the compiler it produces an addon that loads, from the headers of the Node that runs it, without a
// download, even when npm's nodedir names another Node's headers; another Node rebuilds it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tryLoad } from '../../../reflector/native/addon.js';
import { copyNativeSources } from '../../support/native-copy.js';

const { root, native: work } = copyNativeSources('rmesh-native-install-');
const addon = join(work, 'build', 'Release', 'rmesh_mirror.node');

function install(env: Record<string, string>): { status: number | null; log: string } {
  const result = spawnSync(process.execPath, [join(work, 'install.js')], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: result.status, log: `${result.stdout}${result.stderr}` };
}

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('install.js', () => {
  it('succeeds without building when the C compiler is missing, and says why and what runs instead', () => {
    const { status, log } = install({ CC: '/nonexistent/cc' });
    expect(status).toBe(0);
    expect(log).toMatch(/rmesh native data plane: not built .*the TypeScript data plane will run/s);
    expect(existsSync(addon)).toBe(false);
  });

  it('can be skipped on purpose', () => {
    const { status, log } = install({ RMESH_SKIP_NATIVE_BUILD: '1' });
    expect(status).toBe(0);
    expect(log).toMatch(/skipped \(RMESH_SKIP_NATIVE_BUILD=1\)/);
  });

  it("builds a loadable addon from the running Node's own headers, offline, passing over another Node's nodedir", () => {
    // Headers of another Node where npm's nodedir points (as a machine-wide .npmrc `nodedir=/usr` does).
    const other = join(root, 'other-node');
    mkdirSync(join(other, 'include', 'node'), { recursive: true });
    writeFileSync(join(other, 'include', 'node', 'node_version.h'), '#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION 0\n#define NODE_PATCH_VERSION 0\n');
    for (const file of ['node_api.h', 'common.gypi']) writeFileSync(join(other, 'include', 'node', file), '#error not these headers\n');
    // A proxy that does not exist: any download attempt would fail the build.
    const { status, log } = install({ https_proxy: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', npm_config_proxy: 'http://127.0.0.1:9', npm_config_nodedir: other });
    expect(status).toBe(0);
    const own = join(dirname(realpathSync(process.execPath)), '..');
    expect(log).toContain(`rmesh native data plane: built for Node ${process.versions.node} (headers in ${own})`);
    expect(readFileSync(join(work, 'build', 'node-version'), 'utf8').trim()).toBe(process.versions.node);
    const load = tryLoad([addon]);
    expect(load.ok ? typeof load.addon.open : load.reason).toBe('function');
  });

  it('does not rebuild an addon newer than its sources (npm install runs before every npm test)', () => {
    const { status, log } = install({});
    expect(status).toBe(0);
    expect(log).toMatch(/up to date/);
    expect(existsSync(addon)).toBe(true);
  });

  it('rebuilds an addon built for another Node', () => {
    writeFileSync(join(work, 'build', 'node-version'), '22.0.0\n');
    const { status, log } = install({});
    expect(status).toBe(0);
    expect(log).toMatch(/built for Node /);
    expect(readFileSync(join(work, 'build', 'node-version'), 'utf8').trim()).toBe(process.versions.node);
  });
});

describe('the published package', () => {
  // npm runs install.js from the unpacked tarball: a file it imports that package.json "files" leaves
  // out makes `npm install reflector-mesh` fail with ERR_MODULE_NOT_FOUND before anything is built.
  it('holds every file install.js imports', () => {
    const repo = fileURLToPath(new URL('../../..', import.meta.url));
    const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { files: string[] };
    const installJs = join(repo, 'reflector', 'native', 'install.js');
    const imports = [...readFileSync(installJs, 'utf8').matchAll(/^import .* from '(\.{1,2}\/[^']+)';$/gm)].map((m) => relative(repo, join(dirname(installJs), m[1] ?? '')));
    expect(imports.length).toBeGreaterThan(0);
    for (const file of [relative(repo, installJs), ...imports]) {
      expect(pkg.files.some((entry) => file === entry || file.startsWith(`${entry}/`)), `${file} is not in package.json "files"`).toBe(true);
    }
  });
});
