// HTTP/1.1 requests written byte for byte over a TCP socket (node:net), so a test sends exactly the
// request line an attacker would (percent-encoded paths, the absolute form, `//`, `;`), which fetch
// and http.request normalise or refuse.
import net from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawRequest {
  method: string;
  /** The request target exactly as sent: "/v1/%70eers/bye", "http://host:port/v1/peers/bye", ... */
  target: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Source address to bind (a loopback address of its own makes a separate rate-limit source). */
  localAddress?: string;
}

/** Sends one request with "Connection: close" and reads the whole answer. */
export function rawRequest(host: string, port: number, request: RawRequest, timeoutMs = 10_000): Promise<RawAnswer> {
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
  const headers: Record<string, string> = { host: `${host}:${port}`, connection: 'close', ...request.headers };
  if (body.length > 0 || request.method === 'POST' || request.method === 'PUT') headers['content-length'] = String(body.length);
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, ...(request.localAddress ? { localAddress: request.localAddress } : {}) });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer to ${request.method} ${request.target} within ${timeoutMs} ms`)));
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body])));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [top = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = top.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
      if (Number.isNaN(status)) return reject(new Error(`${request.method} ${request.target}: no HTTP answer (got ${JSON.stringify(text.slice(0, 80))})`));
      const parsed: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) parsed[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status, headers: parsed, body: rest.join('\r\n\r\n') });
    });
  });
}
