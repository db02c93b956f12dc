// The proxy's local UDP ports, where the application sends: RTP on a port and RTCP on the next one.
// A port another program holds is the commonest set-up mistake, so the error names the port and
// suggests a free pair found by trying.
import dgram from 'node:dgram';

export interface Endpoint {
  host: string;
  port: number;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly suggestion: number | undefined,
  ) {
    super(
      `UDP port ${port} on ${host} is already in use (EADDRINUSE): another program holds it. ` +
        (suggestion !== undefined
          ? `Choose other ports, for example --listen ${formatEndpoint({ host, port: suggestion })} (free just now).`
          : 'Choose other ports with --listen.'),
    );
  }
}

/** Random pairs tried when the port is 0 (any) before giving up. */
const ANY_PORT_ATTEMPTS = 20;
/** Pairs above a taken port tried for a suggestion. */
const SUGGESTION_ATTEMPTS = 50;

/** Binds `count` sockets on consecutive ports from `endpoint.port` (any free pair when it is 0). */
export async function bindLocalPorts(endpoint: Endpoint, count: 1 | 2): Promise<dgram.Socket[]> {
  if (endpoint.port !== 0) {
    if (endpoint.port + count - 1 > 65_535) throw new RangeError(`port ${endpoint.port} leaves no room for RTCP on the next port`);
    try {
      return await bindRun(endpoint.host, endpoint.port, count);
    } catch (err) {
      const taken = (err as { port?: number }).port;
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || taken === undefined) throw err;
      throw new PortInUseError(endpoint.host, taken, await suggestFreePorts(endpoint.host, endpoint.port, count));
    }
  }
  for (let attempt = 0; ; attempt++) {
    const first = await bindOne(endpoint.host, 0);
    if (count === 1) return [first];
    const port = first.address().port;
    if (port < 65_535) {
      try {
        return [first, await bindOne(endpoint.host, port + 1)];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= ANY_PORT_ATTEMPTS) {
          first.close();
          throw err;
        }
      }
    }
    first.close();
  }
}

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

async function bindRun(host: string, port: number, count: number): Promise<dgram.Socket[]> {
  const sockets: dgram.Socket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      try {
        sockets.push(await bindOne(host, port + i));
      } catch (err) {
        (err as { port?: number }).port = port + i;
        throw err;
      }
    }
    return sockets;
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
}

function bindOne(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind(port, host, () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // send errors (an application not listening) are not fatal
      resolve(socket);
    });
  });
}

async function suggestFreePorts(host: string, taken: number, count: number): Promise<number | undefined> {
  // Keep RTP on an even port, as RFC 3550 recommends.
  for (let i = 1, port = taken + 2 - (taken % 2); i <= SUGGESTION_ATTEMPTS && port + count - 1 <= 65_535; i++, port += 2) {
    try {
      const sockets = await bindRun(host, port, count);
      for (const s of sockets) s.close();
      return port;
    } catch {
      // taken too; try the next pair
    }
  }
  return undefined;
}
