// Builds the native mirror addon at install time (the package's `install` script). The addon is
// optional: when it cannot be built (no compiler, no Node headers, not Linux) this logs why and exits 0,
// and the reflector runs the TypeScript data plane. It never downloads anything: node-gyp is pointed at
// the Node headers installed with Node itself, and the build is skipped when there are none.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const log = (msg) => process.stderr.write(`rmesh native data plane: ${msg}\n`);

function nodeGyp() {
  // npm sets npm_config_node_gyp to its bundled node-gyp; otherwise look beside npm itself.
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

function nodeDir() {
  // The headers that came with this Node: <prefix>/include/node (Debian's nodejs, the official tarballs).
  const candidates = [process.env.npm_config_nodedir, process.config.variables.node_prefix, join(dirname(process.execPath), '..')];
  return candidates.find((d) => d && existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi')));
}

// True when the addon is newer than every source: `npm install` runs before every `npm test`, and an
// N-API addon does not depend on the Node version, so there is nothing to redo. CFLAGS/LDFLAGS (a
// special build, such as the sanitizer test's) or RMESH_FORCE_NATIVE_BUILD=1 always rebuild.
function upToDate() {
  if (process.env.RMESH_FORCE_NATIVE_BUILD === '1' || process.env.CFLAGS || process.env.LDFLAGS) return false;
  const addon = join(here, 'build', 'Release', 'rmesh_mirror.node');
  if (!existsSync(addon)) return false;
  const built = statSync(addon).mtimeMs;
  const sources = [join(here, 'binding.gyp'), ...readdirSync(join(here, 'src')).map((f) => join(here, 'src', f))];
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

function main() {
  if (process.env.RMESH_SKIP_NATIVE_BUILD === '1') return log('skipped (RMESH_SKIP_NATIVE_BUILD=1); the TypeScript data plane will run');
  if (upToDate()) return log('up to date (RMESH_FORCE_NATIVE_BUILD=1 rebuilds)');
  if (process.platform !== 'linux') return log(`skipped on ${process.platform} (needs Linux); the TypeScript data plane will run`);
  const gyp = nodeGyp();
  if (!gyp) return log('not built: node-gyp was not found (it comes with npm); the TypeScript data plane will run');
  const dir = nodeDir();
  if (!dir) return log('not built: the Node headers (include/node/node_api.h) were not found beside node; install them (Debian: libnode-dev) to build the fast path; the TypeScript data plane will run');
  const started = Date.now();
  const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--loglevel=warn'], {
    cwd: here,
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: dir },
  });
  if (result.status === 0) return log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s (${join(here, 'build', 'Release', 'rmesh_mirror.node')})`);
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  log(`not built (node-gyp exited ${result.status ?? result.signal ?? result.error?.message}); the TypeScript data plane will run. Last lines:\n${output}`);
}

main();
