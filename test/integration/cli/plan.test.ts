// `rmesh plan` as a user runs it: the built CLI in a real process, its text, JSON, plot and exit codes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../../dist/cli/rmesh.js');

async function plan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'plan', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('rmesh plan', () => {
  it('max-clients --json gives the most clients per mesh size, not monotonic in m', async () => {
    const { code, stdout } = await plan(['max-clients', '--capacity-mbps', '905', '--bitrate-mbps', '30', '--reflectors', '1-8', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { rows: { reflectors: number; maxClients: number }[] };
    const most = Object.fromEntries(report.rows.map((s) => [s.reflectors, s.maxClients]));
    expect(most).toMatchObject({ 1: 6, 4: 8, 6: 11, 7: 10 });
  });

  it('size picks the smallest mesh that fits and explains why, and draws the plot', async () => {
    const svg = join(mkdtempSync(join(tmpdir(), 'rmesh-plan-')), 'sizing.svg');
    const { code, stdout } = await plan(['size', '--clients', '8', '--bitrate-mbps', '30', '--capacity-mbps', '905', '--json', '--plot', svg]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { fits: boolean; reflectors: number; peakOutboundStreams: number; reason: string };
    expect(report).toMatchObject({ fits: true, reflectors: 3, peakOutboundStreams: 27 });
    expect(report.reason).toMatch(/3 reflectors serve 8 clients/);
    const drawing = readFileSync(svg, 'utf8');
    expect(drawing).toMatch(/^<svg /);
    expect(drawing).toContain('capacity 905 Mbit/s');
  });

  it('says so when no mesh size fits', async () => {
    const { stdout } = await plan(['size', '--clients', '20', '--bitrate-mbps', '30', '--capacity-mbps', '905', '--max', '16', '--json']);
    const report = JSON.parse(stdout) as { fits: boolean; reflectors: number };
    expect(report.fits).toBe(false);
    expect(report.reflectors).toBe(10);
  });

  it('rejects bad arguments with a clear message and exit code 2', async () => {
    for (const args of [
      ['size', '--clients', 'x', '--bitrate-mbps', '30', '--capacity-mbps', '905'],
      ['size', '--clients', '8', '--bitrate-mbps', '30', '--capacity-mbps', '905', '--headroom', '1.5'],
      ['max-clients', '--capacity-mbps', '905', '--bitrate-mbps', '30', '--reflectors', '5-2'],
      ['size', '--clients', '8', '--bitrate-mbps', '30', '--capacity-mbps', '905', '--plot', 'out.png'],
    ]) {
      const { code, stderr } = await plan(args);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr.length).toBeGreaterThan(10);
    }
  });
});
