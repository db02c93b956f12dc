// Ports for a test's servers, asked of the OS (port 0) rather than picked by convention: a port the
// kernel just handed out is free, so test files running side by side cannot collide.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** A port free for both UDP and TCP on `address` (by default on every address) now. */
export async function freePort(address = '0.0.0.0'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await tcpPort(address);
    if (await udpFree(address, port)) return port;
  }
  throw new Error(`no port free for both UDP and TCP on ${address} after 20 tries`);
}

/** `n` distinct ports, each free for UDP and TCP on `address`. */
export async function freePorts(n: number, address = '0.0.0.0'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(address));
  return [...ports];
}

/**
 * The first of `n` consecutive ports, each free for UDP and TCP on `address`: for a program that numbers its
 * servers' ports from one it is given (`rmesh demo --data-port P` gives reflector i port P + i).
 */
export async function freePortRun(n: number, address = '0.0.0.0'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort(address);
    if (first + n - 1 > 65535) continue;
    let free = true;
    for (let port = first + 1; free && port < first + n; port++) free = (await tcpFree(address, port)) && (await udpFree(address, port));
    if (free) return first;
  }
  throw new Error(`no run of ${n} consecutive ports free for UDP and TCP on ${address} after 50 tries`);
}

function tcpFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function tcpPort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: address, port: 0, exclusive: true }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True while some socket holds UDP `port` on `address` (a program the test started has bound it). */
export async function udpBound(address: string, port: number): Promise<boolean> {
  return !(await udpFree(address, port));
}

function udpFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address, port, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** A port P with P + 1 also free, for UDP on every address: an engine or reflector in RTP mode takes both. */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await udpPort();
    if (port < 65535 && (await udpFree('0.0.0.0', port + 1)) && (await udpFree('0.0.0.0', port))) return port;
  }
  throw new Error('no pair of consecutive free UDP ports after 50 tries');
}

function udpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind({ address: '0.0.0.0', port: 0, exclusive: true }, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}
