// The verdict on a Node version against package.json's engines.node: table-driven over the lines, the
// edges of each line and the ranges the check refuses to read.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeLines, nodeSupport, projectRange, supportedLines } from '../../../cli/node-support.js';

const RANGE = '^22.13.0 || ^24.0.0';
const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('nodeSupport', () => {
  it.each([
    ['24.22.3', 'supported'],
    ['v24.0.0', 'supported'],
    ['22.13.0', 'supported'],
    ['22.23.5', 'supported'],
    ['22.12.9', 'unsupported'],
    ['20.20.2', 'unsupported'],
    ['23.11.0', 'unsupported'], // an odd line between the two: never LTS
    ['18.20.8', 'unsupported'],
    ['25.0.0', 'newer'],
    ['26.12.1', 'newer'],
  ])('Node %s is %s', (version, verdict) => {
    expect(nodeSupport(version, RANGE).verdict).toBe(verdict);
  });

  it('says in one line which Node runs and which lines are supported', () => {
    const { message } = nodeSupport('20.20.2', RANGE);
    expect(message).toBe('Node.js v20.20.2 is not supported: reflector-mesh runs on Node.js 24 or 22.13+');
    expect(nodeSupport('v26.1.0', RANGE).message).toMatch(/^Node\.js v26\.1\.0 is newer than .*Node\.js 24 or 22\.13\+.*may work$/);
    expect(nodeSupport('24.1.0', RANGE).message).toBe('');
  });

  it('reads the lines newest first and names them as a person does', () => {
    expect(supportedLines(RANGE).map((l) => l.major)).toEqual([24, 22]);
    expect(describeLines(supportedLines(RANGE))).toBe('24 or 22.13+');
  });

  it('refuses a range that is not a list of ^x.y.z lines, and a version that is not x.y.z', () => {
    for (const range of ['>=20.19', '22 || 24', '^22.13.0 ||', '']) expect(() => supportedLines(range), range).toThrow(/not a list of lines/);
    expect(() => nodeSupport('lts', RANGE)).toThrow(/not a Node\.js version/);
  });
});

describe('the project', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; packageManager: string };
  const pinned = readFileSync(join(ROOT, '.node-version'), 'utf8').trim();

  it('reads engines.node from package.json, and the pinned Node is a supported one', () => {
    expect(projectRange()).toBe(pkg.engines.node);
    expect(nodeSupport(pinned, projectRange()).verdict).toBe('supported');
    expect(supportedLines(projectRange())[0]?.major, 'the pinned Node is of the newest supported line').toBe(Number(pinned.split('.')[0]));
  });

  it('pins npm exactly, for scripts/install-node.sh', () => {
    expect(pkg.packageManager).toMatch(/^npm@\d+\.\d+\.\d+$/);
  });

  it('the test runs on a supported Node', () => {
    expect(nodeSupport(process.versions.node, projectRange()).verdict).toBe('supported');
  });
});
