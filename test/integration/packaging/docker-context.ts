// The Docker build context as `docker build .` would send it: the checkout's files (tracked, and new
// ones not ignored by git) less what .dockerignore excludes, matched as Docker matches: the last
// pattern that matches a path or one of its parent directories wins, `!` lets a path back in.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './tools.js';

/** A predicate telling whether .dockerignore-style `patterns` exclude a relative path. */
export function ignoredBy(patterns: string[]): (path: string) => boolean {
  const rules = patterns.map((raw) => {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/\/+$/, '');
    const source = pattern
      .split('**')
      .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
      .join('.*');
    return { negated, regex: new RegExp(`^${source.replace(/\.\*\//g, '(.*/)?')}$`) };
  });
  return (path) => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) ignored = !rule.negated;
    return ignored;
  };
}

/** The patterns of the project's .dockerignore. */
export function dockerignorePatterns(): string[] {
  return readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('#'));
}

/** Relative paths of the files in the build context. */
export function contextFiles(): string[] {
  const listed = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  const ignored = ignoredBy(dockerignorePatterns());
  // A tracked file deleted in the working tree is not in the context either.
  return listed.stdout.split('\n').filter((file) => file.length > 0 && !ignored(file) && existsSync(join(ROOT, file)));
}
