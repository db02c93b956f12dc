// Which Node.js releases reflector-mesh runs on, read from package.json's `engines.node` (the one place
// that names them), and a one-line verdict on the running one. Plain JavaScript with no dependencies, so
// that any Node can load it before anything else can fail: it runs first in the `rmesh` CLI, in the
// native addon's install script (before the TypeScript is built) and in scripts/with-node.sh.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/**
 * @typedef {{ major: number, minor: number, patch: number }} Version
 * @typedef {'supported' | 'newer' | 'unsupported'} Verdict
 */

/** @param {string} text e.g. `v24.22.3` or `22.13.0` */
export function parseVersion(text) {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!match) throw new Error(`'${text}' is not a Node.js version (x.y.z)`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/** @param {Version} a @param {Version} b */
function compare(a, b) {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/**
 * The supported lines of an engines range written as `^22.13.0 || ^24.0.0`: each line's lowest release,
 * newest line first. Any other form is refused, so the range stays one a person can read as a list.
 * @param {string} range
 * @returns {Version[]}
 */
export function supportedLines(range) {
  const lines = range.split('||').map((part) => {
    const match = /^\s*\^(\d+\.\d+\.\d+)\s*$/.exec(part);
    if (!match?.[1]) throw new Error(`engines.node '${range}' is not a list of lines like '^22.13.0 || ^24.0.0'`);
    return parseVersion(match[1]);
  });
  return lines.sort((a, b) => b.major - a.major);
}

/** "24 or 22.13+": the lines as a person names them. @param {Version[]} lines */
export function describeLines(lines) {
  return lines.map((l) => (l.minor === 0 && l.patch === 0 ? `${l.major}` : `${l.major}.${l.minor}+`)).join(' or ');
}

/**
 * The verdict on a Node version: `supported` (in one of the lines), `newer` (a major above every line:
 * untested, may work) or `unsupported` (older, or a line the project does not run on), with the one
 * line to print.
 * @param {string} version
 * @param {string} range
 * @returns {{ verdict: Verdict, message: string }}
 */
export function nodeSupport(version, range) {
  const lines = supportedLines(range);
  const running = parseVersion(version);
  const line = lines.find((l) => l.major === running.major);
  if (line && compare(running, line) >= 0) return { verdict: 'supported', message: '' };
  const names = `Node.js ${describeLines(lines)}`;
  const newest = lines[0];
  if (newest && running.major > newest.major) {
    return { verdict: 'newer', message: `Node.js v${version.replace(/^v/, '')} is newer than the releases reflector-mesh is tested on (${names}); it may work` };
  }
  return { verdict: 'unsupported', message: `Node.js v${version.replace(/^v/, '')} is not supported: reflector-mesh runs on ${names}` };
}

/** package.json's engines.node, from the nearest package.json above this file (cli/ or dist/cli/). */
export function projectRange() {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      /** @type {{ engines?: { node?: string } }} */
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (pkg.engines?.node) return pkg.engines.node;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json with engines.node above cli/node-support.js');
    dir = parent;
  }
}

/**
 * Checks the running Node before anything else runs: on an unsupported one prints one line,
 * `<who>: <verdict>; <hint>`, and exits 1; on a newer one prints the line and goes on.
 * @param {string} who
 * @param {string} hint what to do instead
 */
export function requireSupportedNode(who, hint) {
  const { verdict, message } = nodeSupport(process.versions.node, projectRange());
  if (verdict === 'supported') return;
  process.stderr.write(`${who}: ${message}${verdict === 'unsupported' ? `; ${hint}` : ''}\n`);
  if (verdict === 'unsupported') process.exit(1);
}
