// The SDK's event stream over a real socket, against a server that is not a well-behaved reflector: an
// endless event (no blank line) ends the stream with a clear error after about the bound, and the
// client hangs up (the server sees the connection close) instead of reading and buffering on; CRLF
// line ends, valid Server-Sent Events, are parsed.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStream } from '../../../client/event-stream.js';

const servers: http.Server[] = [];

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.31.1', resolve));
  return `http://127.0.31.1:${(server.address() as AddressInfo).port}/v1/sessions/x/events`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('the event stream against a misbehaving server', () => {
  it('closes an endless event after about the bound and hangs up', async () => {
    let sent = 0;
    let hungUp!: () => void;
    const serverSawClose = new Promise<void>((r) => (hungUp = r));
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: reflectors\ndata: ');
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        while (!res.destroyed && sent < 40 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', hungUp);
      pump();
    });
    const stream = new EventStream(url, 'token', 5000);
    const closed = new Promise<Error | undefined>((r) => stream.on('closed', r));
    stream.open();
    const error = await closed;
    expect(error?.message).toMatch(/an event longer than 1048576 characters .* closed the stream/);
    await serverSawClose;
    // What the server managed to send before the hang-up: the bound plus what sockets buffer, not 40 MiB.
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    stream.close();
  });

  it('parses CRLF-delimited events', async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': ping\r\n\r\nevent: reflectors\r\ndata: {"reflectors":[]}\r\n\r\n');
      res.write('event: bye\r');
      res.write('\ndata: {"reason":"left"}\r\n\r\n');
    });
    const stream = new EventStream(url, 'token', 5000);
    const events: [string, string][] = [];
    const two = new Promise<void>((resolve) =>
      stream.on('event', (name, data) => {
        events.push([name, data]);
        if (events.length === 2) resolve();
      }),
    );
    stream.open();
    await two;
    expect(events).toEqual([
      ['reflectors', '{"reflectors":[]}'],
      ['bye', '{"reason":"left"}'],
    ]);
    stream.close();
  });
});
