// A real, unmodified RTP application through the mesh: ffmpeg streams a generated test pattern as
// RTP (and RTCP) to `rmesh proxy` A, which puts it on a mesh of two reflectors in RTP mode; `rmesh proxy`
// B, on the other reflector, delivers it to a second ffmpeg, which decodes it. ffmpeg comes from
// Debian's packages (apt-get install -y ffmpeg; .ci/run installs it); this test installs nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { freePortPair, udpBound } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';
import { Background } from './tool-process.js';

const SENDER_APP = '127.0.5.70';
const RECEIVER_APP = '127.0.5.71';
const FRAMES = 100; // 4 s at 25 frames/s

function requireFfmpeg(): void {
  const probe = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error('ffmpeg is not installed: this test needs Debian’s ffmpeg package (apt-get install -y ffmpeg), which .ci/run installs');
  }
}

/** The session description the receiving ffmpeg reads: MPEG-4 video on RTP payload type 96 at `port`. */
const receiverSdp = (port: number): string => [
  'v=0',
  `o=- 0 0 IN IP4 ${RECEIVER_APP}`,
  's=rmesh proxy test',
  `c=IN IP4 ${RECEIVER_APP}`,
  't=0 0',
  `m=video ${port} RTP/AVP 96`,
  'a=rtpmap:96 MP4V-ES/90000',
  'a=fmtp:96 profile-level-id=1',
  '',
].join('\n');

interface ProxyStatsLine {
  msg: string;
  stats?: { fromApplication: [number, number]; toApplication: [number, number] };
}

function lastStats(output: string): ProxyStatsLine['stats'] {
  const lines = output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ProxyStatsLine);
  return lines.reverse().find((l) => l.msg === 'proxy stopped')?.stats;
}

describe('ffmpeg through two rmesh proxies and a mesh of two reflectors', () => {
  let mesh: ReflectorProcess[] = [];
  const background: Background[] = [];
  let dir = '';

  beforeAll(async () => {
    requireFfmpeg();
    dir = mkdtempSync(path.join(tmpdir(), 'rmesh-ffmpeg-'));
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.5.', firstHost: 61, common: { rtp: true } });
  });

  afterAll(async () => {
    await Promise.all(background.map((b) => b.stop('SIGKILL')));
    await stopAll(mesh);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the receiving ffmpeg decodes the test pattern the sending ffmpeg streamed', async () => {
    const [r0, r1] = [mesh[0]!, mesh[1]!];
    // RTP ports with RTCP beside them, asked of the OS: where the receiving ffmpeg listens, and the sending proxy.
    const receiverPort = await freePortPair();
    let proxyListen = await freePortPair();
    while (Math.abs(proxyListen - receiverPort) < 2) proxyListen = await freePortPair();
    const proxyB = Background.rmesh(['proxy', '--join', r1.controlAddress, '--role', 'recvonly', '--deliver', `${RECEIVER_APP}:${receiverPort}`, '--bind', RECEIVER_APP, '--name', 'ffmpeg-rx']);
    background.push(proxyB);
    await proxyB.waitForStderr(/"msg":"proxy ready"/);
    const proxyA = Background.rmesh(['proxy', '--join', r0.controlAddress, '--role', 'sendonly', '--listen', `${SENDER_APP}:${proxyListen}`, '--bind', SENDER_APP, '--name', 'ffmpeg-tx']);
    background.push(proxyA);
    await proxyA.waitForStderr(/"msg":"proxy ready"/);
    // Each proxy is served by a different reflector, so the stream crosses the mesh.
    expect(proxyA.stderr).toContain(`"reflector":"${r0.id}"`);
    expect(proxyB.stderr).toContain(`"reflector":"${r1.id}"`);
    expect(proxyA.stderr).toContain('"rtcpInMesh":true');

    const sdp = path.join(dir, 'receiver.sdp');
    writeFileSync(sdp, receiverSdp(receiverPort));
    const receiver = new Background('ffmpeg', ['-hide_banner', '-nostdin', '-protocol_whitelist', 'file,udp,rtp', '-i', sdp, '-f', 'framecrc', '-']);
    background.push(receiver);
    await waitFor(() => udpBound(RECEIVER_APP, receiverPort), { what: `the receiving ffmpeg bound to ${RECEIVER_APP}:${receiverPort}`, timeoutMs: 15_000 });

    const sender = new Background('ffmpeg', [
      '-hide_banner', '-nostdin', '-re',
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25',
      '-frames:v', String(FRAMES), '-c:v', 'mpeg4', '-g', '25',
      '-f', 'rtp', `rtp://${SENDER_APP}:${proxyListen}`,
    ]);
    background.push(sender);
    expect(await sender.exited, sender.stderr).toBe(0);
    // Every frame decoded, or the last ones lost (the assertions below allow that) after 3 s.
    const decoded = () => receiver.stdout.split('\n').filter((l) => /^\d+,/.test(l));
    await waitFor(() => decoded().length >= FRAMES, { what: 'every frame decoded', timeoutMs: 3000 }).catch(() => undefined);
    await receiver.stop('SIGINT');

    const frames = decoded();
    expect(frames.length, receiver.stderr).toBeGreaterThan(FRAMES / 2);
    expect(frames.length).toBeLessThanOrEqual(FRAMES);
    expect(receiver.stderr).not.toMatch(/error|corrupt|conceal|damaged/i);

    await proxyA.stop('SIGTERM');
    await proxyB.stop('SIGTERM');
    const sent = lastStats(proxyA.stderr);
    const delivered = lastStats(proxyB.stderr);
    expect(sent?.fromApplication[0]).toBeGreaterThan(0);
    expect(sent?.fromApplication[1]).toBeGreaterThan(0); // ffmpeg's RTCP sender reports
    expect(delivered?.toApplication[0]).toBe(sent?.fromApplication[0]);
    expect(delivered?.toApplication[1]).toBe(sent?.fromApplication[1]);
  });
});
