// What authenticated peers (docs/protocol.md §2.4) cost per datagram in each engine, without the network:
// the tag a sender makes once per datagram (whatever the number of peers), the check a receiver makes
// (replay window, then the tag), for a few payload sizes. CPU time of this process, so a loaded machine
// skews it less than wall time. The TypeScript engine's functions are timed here; the native engine's
// (reflector/native/src/mac.c) through tag-cost.c, built with cc against the system's libcrypto.
// The forwarding cost with tags, network included, is the dataplane benchmark's `--variant auth` row
// (against `--variant peers`).
// usage: node dist/bench/dataplane/tag-cost.js [--iterations 200000] [--sizes 200,1440]
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peerEndpointKey, verifyPeerTag, writePeerTag } from '../../reflector/security/peer-tag.js';
import { FRESH, ReplayWindow } from '../../reflector/security/replay-window.js';
import { PEER_TAG_SIZE, PEER_TAGGED_OVERHEAD, writeTaggedPeerHeader } from '../../protocol/wire/peer-header.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..', '..');

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function jsCosts(size: number, n: number): { tagNs: number; verifyNs: number } {
  const key = peerEndpointKey(Buffer.alloc(32, 7), '127.0.8.10', 47000);
  const buf = Buffer.alloc(size + PEER_TAGGED_OVERHEAD, 0x5a);
  writeTaggedPeerHeader(buf, 1, 0, Date.now());
  const body = buf.length - PEER_TAG_SIZE;
  for (let i = 0; i < 2000; i++) writePeerTag(buf, body, key); // warm up
  let t = cpuNs();
  for (let i = 0; i < n; i++) {
    buf.writeUInt32BE(i >>> 0, 12);
    writePeerTag(buf, body, key);
  }
  const tagNs = (cpuNs() - t) / n;
  const window = new ReplayWindow();
  let ok = 0;
  t = cpuNs();
  for (let i = 0; i < n; i++) {
    // The receiver's path: window check, verify (fails on purpose after the first: the sequence changed), window update.
    if (window.check(1, i) === FRESH && verifyPeerTag(buf, buf.length, key)) ok++;
    window.update(1, i);
  }
  const verifyNs = (cpuNs() - t) / n;
  if (ok < 0) throw new Error('unreachable');
  return { tagNs, verifyNs };
}

function nativeCosts(sizes: number[], n: number): Map<number, { tagNs: number; windowNs: number }> | string {
  const cacheDir = join(root, '.cache', 'bench-dataplane');
  mkdirSync(cacheDir, { recursive: true });
  const binary = join(cacheDir, 'tag-cost');
  const source = join(root, 'bench', 'dataplane', 'tag-cost.c');
  const build = spawnSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', binary, source, '-lcrypto'], { encoding: 'utf8' });
  if (build.status !== 0) return `not measured: cc ${source} -lcrypto failed (libssl-dev missing?): ${build.stderr.trim().split('\n').slice(-2).join(' ')}`;
  const out = new Map<number, { tagNs: number; windowNs: number }>();
  for (const size of sizes) {
    const run = spawnSync(binary, [String(size), String(n)], { encoding: 'utf8' });
    const [tag, window] = run.stdout.trim().split(' ').map(Number);
    out.set(size, { tagNs: tag!, windowNs: window! });
  }
  return out;
}

function main(argv: string[]): void {
  let n = 200_000;
  let sizes = [200, 1440];
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--iterations') n = Number(argv[i + 1]);
    else if (argv[i] === '--sizes') sizes = argv[i + 1]!.split(',').map(Number);
    else throw new Error(`unknown flag ${argv[i]}; flags: --iterations N --sizes 200,1440`);
  }
  const native = nativeCosts(sizes, n);
  const lines = [
    `Authenticated peers: CPU-ns per datagram (${n} iterations, ${new Date().toISOString()})`,
    '',
    '| payload bytes | JS: tag (sender) | JS: window + verify (receiver) | native: tag (sender; receiver the same) | native: window |',
    '|---:|---:|---:|---:|---:|',
  ];
  for (const size of sizes) {
    const js = jsCosts(size, n);
    const c = typeof native === 'string' ? undefined : native.get(size);
    lines.push(`| ${size} | ${js.tagNs.toFixed(0)} | ${js.verifyNs.toFixed(0)} | ${c ? c.tagNs.toFixed(0) : '–'} | ${c ? c.windowNs.toFixed(1) : '–'} |`);
  }
  if (typeof native === 'string') lines.push('', `native: ${native}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main(process.argv.slice(2));
