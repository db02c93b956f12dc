// A throw-away copy of what the native addon's install script needs, laid out as in the repository
// (reflector/native with its sources, cli/node-support.js it imports, package.json it reads the supported
// Node lines from), so a test can build, skip or break the addon without touching the checkout's build.
import { cpSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Copies into a new temporary directory; returns it (`root`, for cleanup) and the copy's reflector/native. */
export function copyNativeSources(prefix: string): { root: string; native: string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const native = join(root, 'reflector', 'native');
  mkdirSync(native, { recursive: true });
  for (const entry of ['install.js', 'binding.gyp', 'src']) cpSync(join(ROOT, 'reflector', 'native', entry), join(native, entry), { recursive: true });
  mkdirSync(join(root, 'cli'));
  cpSync(join(ROOT, 'cli', 'node-support.js'), join(root, 'cli', 'node-support.js'));
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  return { root, native };
}
