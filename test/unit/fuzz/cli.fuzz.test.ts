// The command line fed arbitrary values and argv (fast-check): every shared option parser returns a
// value in its range or throws commander's InvalidArgumentError quoting the input; `rmesh reflector`,
// `rmesh client` and `rmesh plan` parse any argv to a config or to a usage error (CommanderError or
// UsageError, which the entry point turns into exit code 2 and one message), never another exception;
// and the real binary, given argv the parsers refuse, exits 2 with a message and no stack trace.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  parseBitrateBps,
  parseDurationMs,
  parseFraction,
  parseHostPort,
  parseNonNegativeInt,
  parsePort,
  parsePositiveInt,
  parsePositiveNumber,
} from '../../../cli/option-parsers.js';
import { UsageError } from '../../../cli/errors.js';
import { register as registerReflector, toConfig } from '../../../cli/reflector.js';
import { register as registerClient } from '../../../cli/client.js';
import { register as registerPlan } from '../../../cli/plan.js';
import { runCli } from '../../support/reflector-process.js';

/** Longest timer Node keeps: setTimeout/setInterval above it fire after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const text = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[0-9]{1,25}(\.[0-9]{1,4})?(ms|s|m|h|kbps|Mbps|gbps|bps)?$/),
  fc.constantFrom('0', '-1', '1', '65535', '65536', '0.5', '1e3', '0x10', 'Infinity', 'NaN', ' 5 ', '', '0.4ms', '1.5ms', '99999999999999999999h', '9'.repeat(400), '[::1]:7400', '127.0.0.1:0', 'host:70000', ':80'),
);

function parsesOrRefuses<T>(parse: (v: string) => T, valid: (result: T, input: string) => void) {
  fc.assert(
    fc.property(text, (input) => {
      let result: T;
      try {
        result = parse(input);
      } catch (err) {
        expect(err, input).toBeInstanceOf(InvalidArgumentError);
        const message = (err as Error).message;
        expect(message.includes('\n'), `one line: ${message}`).toBe(false);
        expect(message.length, message).toBeGreaterThan(10);
        return;
      }
      valid(result, input);
    }),
    { numRuns: 1500 },
  );
}

describe('option parsers, for any string', () => {
  it('ports: an integer 1-65535', () => parsesOrRefuses(parsePort, (p) => expect(Number.isInteger(p) && p >= 1 && p <= 65535).toBe(true)));
  it('whole numbers: safe integers >= 0 (and >= 1)', () => {
    parsesOrRefuses(parseNonNegativeInt, (n, input) => expect(Number.isSafeInteger(n) && n >= 0, input).toBe(true));
    parsesOrRefuses(parsePositiveInt, (n, input) => expect(Number.isSafeInteger(n) && n >= 1, input).toBe(true));
  });
  it('fractions in [0, 1) and positive numbers, finite', () => {
    parsesOrRefuses(parseFraction, (f) => expect(Number.isFinite(f) && f >= 0 && f < 1).toBe(true));
    parsesOrRefuses(parsePositiveNumber, (f) => expect(Number.isFinite(f) && f > 0).toBe(true));
  });
  it('durations: whole milliseconds a timer can hold (at least 1, at most 2^31-1)', () =>
    parsesOrRefuses(parseDurationMs, (ms, input) => expect(Number.isInteger(ms) && ms >= 1 && ms <= MAX_TIMER_MS, `${input} -> ${ms}`).toBe(true)));
  it('bitrates: finite and positive', () => parsesOrRefuses(parseBitrateBps, (bps, input) => expect(Number.isFinite(bps) && bps > 0, `${input} -> ${bps}`).toBe(true)));
  it('host:port: a host without spaces and a valid port', () =>
    parsesOrRefuses(parseHostPort, (hp) => {
      expect(hp.host.length).toBeGreaterThan(0);
      expect(/\s/.test(hp.host)).toBe(false);
      expect(hp.port >= 1 && hp.port <= 65535).toBe(true);
    }));
});

// ---- whole subcommands, in process: the real options and checks, the action stubbed where it would run

type Sub = 'reflector' | 'client' | 'plan';

/** A program with one subcommand whose action only validates; resolves to 'ok' or the usage error. */
async function parse(sub: Sub, argv: string[]): Promise<{ ok: true } | { ok: false; error: Error; stderr: string }> {
  let stderr = '';
  const program = new Command('rmesh').exitOverride().configureOutput({ writeOut: () => {}, writeErr: (s) => (stderr += s), outputError: (s, write) => write(s) });
  if (sub === 'reflector') registerReflector(program);
  if (sub === 'client') registerClient(program);
  if (sub === 'plan') registerPlan(program);
  const command = program.commands.find((c) => c.name() === sub)!;
  if (sub === 'reflector') command.action((flags: Parameters<typeof toConfig>[0]) => void toConfig(flags, {}));
  if (sub === 'client') command.action(() => {});
  // plan runs for real (pure computation); its output goes nowhere.
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = (() => true);
  process.stderr.write = ((s: string) => ((stderr += s), true));
  try {
    await program.parseAsync([sub, ...argv], { from: 'user' });
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error as Error, stderr };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

function flagsOf(sub: Sub): string[] {
  const program = new Command('rmesh');
  ({ reflector: registerReflector, client: registerClient, plan: registerPlan })[sub](program);
  const command = program.commands.find((c) => c.name() === sub)!;
  const all = [command, ...command.commands];
  return [...new Set(all.flatMap((c) => c.options.map((o) => o.long ?? o.short ?? '')).filter(Boolean)), ...command.commands.map((c) => c.name())];
}

const tmp = mkdtempSync(join(tmpdir(), 'rmesh-cli-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function argvFor(sub: Sub): fc.Arbitrary<string[]> {
  const flags = flagsOf(sub).filter((f) => f !== '--help' && f !== '--version');
  const value = fc.oneof(text, fc.constantFrom('127.0.9.50', '127.0.9.50:50900', '0.0.0.0', '2', '16', '1-4', 'json', 'js', 'recvonly', `${tmp}/p.svg`, `${tmp}/p.png`, '--open-mesh'));
  const pair = fc.tuple(fc.constantFrom(...flags), value).map(([f, v]) => (f.startsWith('--') && Math.random() < 0.3 ? [`${f}=${v}`] : [f, v]));
  const token = fc.oneof({ weight: 4, arbitrary: pair }, fc.constantFrom(...flags).map((f) => [f]), text.map((t) => [t]));
  const base = sub === 'plan' ? fc.constantFrom(['size', '--clients', '40'], ['max-clients', '--reflectors', '1-4'], ['size'], []) : sub === 'reflector' ? fc.constant(['--address', '127.0.9.50', '--open-mesh']) : fc.constant(['--join', '127.0.9.50:50900']);
  return fc.tuple(base, fc.array(token, { maxLength: 5 })).map(([b, rest]) => [...b, ...rest.flat()]);
}

describe.each(['reflector', 'client', 'plan'] as const)('`rmesh %s`, for any argv', (sub) => {
  it('parses to a config or a usage error with a message, never another exception', async () => {
    await fc.assert(
      fc.asyncProperty(argvFor(sub), async (argv) => {
        const result = await parse(sub, argv);
        if (result.ok) return;
        const { error, stderr } = result;
        const what = `rmesh ${sub} ${JSON.stringify(argv)}: ${error.name}: ${error.message}`;
        expect(error instanceof CommanderError || error instanceof UsageError, what).toBe(true);
        if (error instanceof CommanderError) {
          if (error.exitCode === 0) return; // --help, --version
          expect(stderr.trim().length, `${what}: commander said nothing`).toBeGreaterThan(0);
        }
        expect(`${stderr}${error.message}`, what).not.toMatch(/\n\s+at /);
      }),
      { numRuns: sub === 'plan' ? 300 : 600 },
    );
  }, 120_000);
});

describe('the rmesh binary, given argv its parsers refuse', () => {
  it.each(['reflector', 'client', 'plan'] as const)('`rmesh %s` exits 2 with one message and no stack trace', async (sub) => {
    // A few through the real process (the entry point's mapping of errors to exit codes); only argv the
    // in-process parse refused, so that no reflector or client actually starts.
    const samples = fc.sample(argvFor(sub), { numRuns: 60, seed: 9 });
    let checked = 0;
    for (const argv of samples) {
      if (checked >= 4) break;
      const parsed = await parse(sub, argv);
      if (parsed.ok || (parsed.error instanceof CommanderError && parsed.error.exitCode === 0)) continue;
      checked++;
      const run = await runCli([sub, ...argv], { RMESH_MESH_KEY: '', RMESH_TOKEN: '' });
      const what = `rmesh ${sub} ${JSON.stringify(argv)} -> ${run.code}\n${run.stderr}`;
      expect(run.code, what).toBe(2);
      expect(run.stderr.trim().length, what).toBeGreaterThan(0);
      expect(run.stderr, what).not.toMatch(/\n\s+at /);
    }
    expect(checked).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
