// `rmesh proxy` over real reflector processes: an application's RTP stream carried without loss while
// the proxy's client is migrated, clear errors for a taken port and for a mesh that refuses the client,
// and bad flags.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reflectorPorts, runCli, startMesh, startReflector, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { freePortPair, freePortRun } from '../../support/ports.js';
import { sleep, waitFor } from '../../support/wait.js';
import { Background } from './tool-process.js';

function proxyClientId(proxy: Background): string {
  const ready = proxy.stderr.split('\n').find((l) => l.includes('"msg":"proxy ready"'));
  return (JSON.parse(ready!) as { clientId: string }).clientId;
}

async function udpSocket(address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  return socket;
}

describe('rmesh proxy carries an application’s stream across a migration', () => {
  let mesh: ReflectorProcess[] = [];
  const background: Background[] = [];
  const sockets: dgram.Socket[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.5.', firstHost: 91, common: { rtp: true } });
  });
  afterAll(async () => {
    await Promise.all(background.map((b) => b.stop('SIGKILL')));
    for (const s of sockets) s.close();
    await stopAll(mesh);
  });

  it('delivers every datagram, in order, while the sending proxy moves to the other reflector', async () => {
    const [r0, r1] = [mesh[0]!, mesh[1]!];
    const receiver = await udpSocket('127.0.5.101');
    sockets.push(receiver);
    const received: number[] = [];
    receiver.on('message', (m) => received.push(m.readUInt16BE(2)));
    const rx = Background.rmesh(['proxy', '--join', r1.controlAddress, '--role', 'recvonly', '--deliver', `127.0.5.101:${receiver.address().port}`, '--no-rtcp', '--bind', '127.0.5.101']);
    const listen = await freePortPair(); // the proxy's RTP port and RTCP beside it
    const tx = Background.rmesh(['proxy', '--join', r0.controlAddress, '--role', 'sendonly', '--listen', `127.0.5.100:${listen}`, '--bind', '127.0.5.100']);
    background.push(rx, tx);
    await Promise.all([rx.waitForStderr(/"msg":"proxy ready"/), tx.waitForStderr(/"msg":"proxy ready"/)]);

    // The application: RTP with sequence numbers 0..N-1, 200 per second.
    const app = await udpSocket('127.0.5.100');
    sockets.push(app);
    const total = 800;
    let sequence = 0;
    const sending = new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        for (let i = 0; i < 2 && sequence < total; i++, sequence++) {
          const packet = Buffer.alloc(172); // a buffer per send: sending is asynchronous
          packet[0] = 0x80;
          packet.writeUInt16BE(sequence, 2);
          app.send(packet, listen, '127.0.5.100');
        }
        if (sequence >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    await waitFor(() => received.length > 100, { timeoutMs: 10_000, what: 'the stream to flow' });
    const moved = await r0.json<{ migrationId: string }>(`/v1/clients/${proxyClientId(tx)}/migrate`, { body: { to: r1.id } });
    expect(moved.migrationId).toBeTruthy();
    await sending;
    await waitFor(() => new Set(received).size === total, { timeoutMs: 5000, what: 'every datagram' }).catch(() => undefined);
    await tx.waitForStderr(/"msg":"migrated to another reflector"/);

    const unique = [...new Set(received)];
    expect(unique.length).toBe(total);
    expect(received.length - total).toBeLessThan(total / 10); // a migration may duplicate a few, never lose
    expect(unique).toEqual([...unique].sort((a, b) => a - b)); // the sender's order is kept
    expect(tx.stderr).toContain(`"to":"${r1.id}"`);
  });
});

describe('rmesh proxy fails over when its reflector is killed', () => {
  let mesh: ReflectorProcess[] = [];
  const background: Background[] = [];
  const sockets: dgram.Socket[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.5.', firstHost: 111 });
  });
  afterAll(async () => {
    await Promise.all(background.map((b) => b.stop('SIGKILL')));
    for (const s of sockets) s.close();
    await stopAll(mesh);
  });

  it('moves to the surviving reflector by itself and the application’s stream resumes', async () => {
    const [r0, r1] = [mesh[0]!, mesh[1]!];
    const receiver = await udpSocket('127.0.5.121');
    sockets.push(receiver);
    const received: number[] = [];
    receiver.on('message', (m) => received.push(m.readUInt16BE(2)));
    const rx = Background.rmesh(['proxy', '--join', r1.controlAddress, '--role', 'recvonly', '--deliver', `127.0.5.121:${receiver.address().port}`, '--no-rtcp', '--bind', '127.0.5.121']);
    const listen = await freePortPair();
    const tx = Background.rmesh(['proxy', '--join', r0.controlAddress, '--role', 'sendonly', '--listen', `127.0.5.120:${listen}`, '--no-rtcp', '--bind', '127.0.5.120', '--failover-timeout', '1s']);
    background.push(rx, tx);
    await Promise.all([rx.waitForStderr(/"msg":"proxy ready"/), tx.waitForStderr(/"msg":"proxy ready"/)]);
    expect(tx.stderr).toContain(`"reflector":"${r0.id}"`);

    const app = await udpSocket('127.0.5.120');
    sockets.push(app);
    let sequence = 0;
    const timer = setInterval(() => {
      const packet = Buffer.alloc(100);
      packet[0] = 0x80;
      packet.writeUInt16BE(sequence++ & 0xffff, 2);
      app.send(packet, listen, '127.0.5.120');
    }, 5);
    try {
      await waitFor(() => received.length > 100, { timeoutMs: 10_000, what: 'the stream to flow' });
      await r0.kill('SIGKILL');
      await tx.waitForStderr(/"msg":"failed over to another reflector"/, 20_000);
      const resumedFrom = sequence;
      await waitFor(() => received.some((s) => s >= resumedFrom), { timeoutMs: 10_000, what: 'the stream to resume after the failover' });
    } finally {
      clearInterval(timer);
    }
    expect(tx.stderr).toContain(`"from":"${r0.id}"`);
    expect(tx.stderr).toContain(`"to":"${r1.id}"`);
    expect(tx.stderr).toContain('"reason":"silent"');
  });
});

describe('rmesh proxy errors', () => {
  let reflector: ReflectorProcess;
  const background: Background[] = [];

  beforeAll(async () => {
    reflector = await startReflector({ address: '127.0.5.81', ...(await reflectorPorts()), rtp: true, extraArgs: ['--max-clients', '1'] });
  });
  afterAll(async () => {
    await Promise.all(background.map((b) => b.stop('SIGKILL')));
    await stopAll([reflector]);
  });

  it('names a taken port and suggests free ones; says why a full mesh refused it', async () => {
    // P - 1, P and P + 1 free: the first proxy takes P (RTP) and P + 1 (RTCP); --listen P - 1 wants P for its RTCP.
    const port = (await freePortRun(3, '127.0.5.82')) + 1;
    const first = Background.rmesh(['proxy', '--join', reflector.controlAddress, '--listen', `127.0.5.82:${port}`, '--bind', '127.0.5.82']);
    background.push(first);
    await first.waitForStderr(/"msg":"proxy ready"/);

    const taken = await runCli(['proxy', '--join', reflector.controlAddress, '--listen', `127.0.5.82:${port}`]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`UDP port ${port} on 127.0.5.82 is already in use (EADDRINUSE)`);
    // A suggestion past the taken pair: P + 2 to P + 9.
    const suggestions = Array.from({ length: 8 }, (_, i) => port + 2 + i).join('|');
    expect(taken.stderr).toMatch(new RegExp(`for example --listen 127\\.0\\.5\\.82:(${suggestions})\\b`));
    const rtcpTaken = await runCli(['proxy', '--join', reflector.controlAddress, '--listen', `127.0.5.82:${port - 1}`]);
    expect(rtcpTaken.code).toBe(1);
    expect(rtcpTaken.stderr).toContain(`UDP port ${port} on 127.0.5.82 is already in use`);

    const refusedPort = await freePortPair();
    const refused = await runCli(['proxy', '--join', reflector.controlAddress, '--listen', `127.0.5.82:${refusedPort}`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the mesh refused the client \(RMESH_(MESH|REFLECTOR)_FULL\)/);
    // The refused proxy released its ports: another program can have them at once.
    const again = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(refusedPort, '127.0.5.82', resolve);
    });
    again.close();
    await sleep(0);
  });

  it('bad flags exit 2', async () => {
    const listen = `127.0.5.82:${await freePortPair()}`;
    for (const [args, message] of [
      [['--listen', 'nowhere'], /not HOST:PORT/],
      [['--listen', '127.0.5.82:65535'], /no room for RTCP/],
      [['--role', 'recvonly'], /needs --deliver/],
      [[], /needs --listen/],
      [['--listen', listen, '--stats-interval', 'often'], /duration/],
    ] as const) {
      const result = await runCli(['proxy', '--join', reflector.controlAddress, ...args]);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});
