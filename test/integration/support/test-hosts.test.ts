// The test hosts of test/support/test-hosts.ts on the real kernel: hosts reach each other over the
// bridge and nothing else (no default route), a host's token bucket passes its rate and drops the
// excess while the other direction is untouched, and every namespace goes away on destroy(), on
// SIGTERM, and (through the reaper) after the owner was killed with SIGKILL.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listNamespaces, reapStaleNetworks, TestNetwork, type TestHost } from '../../support/test-hosts.js';

const BUILT = fileURLToPath(new URL('../../../dist/test/support/test-hosts.js', import.meta.url));

/** Counts datagrams on port 9000 until 600 ms pass without one; prints "ready", then the count. */
const RECEIVER = `
const s = require('node:dgram').createSocket('udp4');
let n = 0, timer;
s.on('message', () => { n++; clearTimeout(timer); timer = setTimeout(() => { console.log(n); process.exit(0); }, 600); });
s.bind(9000, () => console.log('ready'));`;

/** Sends one datagram to TARGET:9000; exits 1 with the error's code when the send fails. */
const SEND_ONE = `
const s = require('node:dgram').createSocket('udp4');
s.send(Buffer.alloc(10), 9000, process.argv[1], (err) => { if (err) { console.error(err.code); process.exit(1); } s.close(); });`;

/** Sends COUNT datagrams of 1400 bytes to TARGET:9000, RATE datagrams a second, in 10 ms batches. */
const SENDER = `
const [target, count, rate] = process.argv.slice(1);
const s = require('node:dgram').createSocket('udp4');
const buf = Buffer.alloc(1400); let sent = 0; const t0 = Date.now();
const tick = () => { const due = Math.min(+count, Math.floor((Date.now() - t0) * +rate / 1000));
  while (sent < due) { s.send(buf, 9000, target); sent++; }
  if (sent < +count) setTimeout(tick, 10); else setTimeout(() => process.exit(0), 200); };
tick();`;

function output(child: ReturnType<TestHost['spawn']>): { lines: string[]; next: () => Promise<string> } {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  child.stdout!.on('data', (d: Buffer) => {
    lines.push(...d.toString().split('\n').filter(Boolean));
    wake?.();
  });
  let read = 0;
  const next = async (): Promise<string> => {
    while (read >= lines.length) await new Promise<void>((r) => (wake = r));
    return lines[read++]!;
  };
  return { lines, next };
}

/** Sends `count` datagrams from one host to another at `rate`/s; resolves to how many arrived. */
async function transfer(from: TestHost, to: TestHost, count: number, rate: number): Promise<number> {
  const receiver = output(to.spawn(process.execPath, ['-e', RECEIVER]));
  expect(await receiver.next()).toBe('ready');
  from.spawn(process.execPath, ['-e', SENDER, to.address, String(count), String(rate)]);
  return Number(await receiver.next());
}

describe('test hosts', () => {
  let network: TestNetwork;
  let limited: TestHost;
  let free: TestHost;

  beforeAll(async () => {
    network = await TestNetwork.create();
    // 1 Mbit/s on the wire: 86 datagrams of 1400 bytes (1442 with IP, UDP and Ethernet headers) a second.
    limited = await network.addHost('limited', { address: '10.9.0.1', egress: { rateBitsPerSecond: 1_000_000 } });
    free = await network.addHost('free', { address: '10.9.0.2', extraAddresses: ['10.9.1.2'] });
  });
  afterAll(() => network.destroy());

  it('puts every host in its own namespace on the bridge, with no default route', async () => {
    expect(listNamespaces()).toEqual(expect.arrayContaining([network.bridgeNamespace, limited.namespace, free.namespace]));
    expect((await limited.exec('ip', ['route', 'show', 'default'])).stdout.trim()).toBe('');
    await expect(limited.exec(process.execPath, ['-e', SEND_ONE, '192.0.2.1'])).rejects.toThrow(/ENETUNREACH/);
    const receiver = output(free.spawn(process.execPath, ['-e', RECEIVER]));
    expect(await receiver.next()).toBe('ready');
    await limited.exec(process.execPath, ['-e', SEND_ONE, '10.9.1.2']);
    expect(await receiver.next()).toBe('1');
  });

  it('limits the host\'s outbound rate, drops the excess, and leaves the other direction alone', async () => {
    const before = await limited.linkStats();
    // Offered: 258 datagrams/s (3 Mbit/s) for 2 s; the link passes ~86/s plus its bucket and queue.
    const arrived = await transfer(limited, free, 516, 258);
    const after = await limited.linkStats();
    expect(arrived).toBeGreaterThan(0.8 * 173);
    expect(arrived).toBeLessThan(1.2 * 173 + 10);
    expect(after.dropped - before.dropped).toBeGreaterThan(250);
    expect(await transfer(free, limited, 516, 258)).toBe(516);
  });

  it('kills what runs in its hosts and removes every namespace on destroy', async () => {
    const other = await TestNetwork.create();
    const host = await other.addHost('a', { address: '10.9.0.1' });
    const sleeper = host.spawn('sleep', ['600']);
    const exited = new Promise((r) => sleeper.once('exit', r));
    await other.destroy();
    await exited;
    expect(listNamespaces().filter((ns) => ns.startsWith(`${other.id}-`))).toEqual([]);
  });

  /** Starts a process that makes a network with a host and a sleeper in it, and says "up". */
  async function owner(): Promise<{ pid: number; exited: Promise<unknown> }> {
    const script = `import(${JSON.stringify(BUILT)}).then(async ({ TestNetwork }) => {
      const n = await TestNetwork.create(); const h = await n.addHost('a', { address: '10.9.0.1' });
      h.spawn('sleep', ['600']); console.log('up'); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((r) => child.once('exit', r));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('up') && resolve());
      void exited.then(() => reject(new Error('the owner exited before its network was up (is dist built?)')));
    });
    return { pid: child.pid!, exited };
  }
  const owned = (pid: number): string[] => listNamespaces().filter((ns) => ns.startsWith(`rmh-${pid}-`));

  it('removes its namespaces when the owner gets SIGTERM', async () => {
    const o = await owner();
    expect(owned(o.pid)).toHaveLength(2);
    process.kill(o.pid, 'SIGTERM');
    await o.exited;
    expect(owned(o.pid)).toEqual([]);
  });

  it('reaps the namespaces of an owner killed with SIGKILL', async () => {
    const o = await owner();
    process.kill(o.pid, 'SIGKILL');
    await o.exited;
    const left = owned(o.pid);
    expect(left).toHaveLength(2); // nothing could run in the owner
    expect(reapStaleNetworks()).toEqual(expect.arrayContaining(left));
    expect(owned(o.pid)).toEqual([]);
  });
});
