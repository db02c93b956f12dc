// The client SDK's decoders fed arbitrary input (fast-check): the session event stream parser gives
// the same events however the bytes are cut into chunks, and never throws; a joined MeshClient given
// arbitrary datagrams from a stranger, and from its reflector's host on another port, emits none of
// them as data, keeps its session, and still gets its peer's datagrams.
import dgram from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventStream } from '../../../client/event-stream.js';
import { MeshClient } from '../../../client/mesh-client.js';
import { CONTROL_MAGIC } from '../../../protocol/wire/control-datagram.js';
import { FakeReflector } from '../tools/fake-reflector.js';

function eventsOf(chunks: string[]): [string, string][] {
  const stream = new EventStream('http://127.0.9.1:1/unused', 'token', 1000);
  const events: [string, string][] = [];
  stream.on('event', (name, data) => events.push([name, data]));
  const feed = (stream as unknown as { feed(chunk: string): void }).feed.bind(stream);
  for (const c of chunks) feed(c);
  return events;
}

const sseText = fc
  .array(
    fc.oneof(
      fc.constantFrom('event: ', 'event:migrate', 'data: ', 'data:{"a":1}', ': ping', '\n', '\n\n', 'reflectors', 'bye', ':', ' ', '\r\n', 'é', '\u0000'),
      fc.string({ maxLength: 10 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));

describe('the session event stream, for any bytes in any chunks', () => {
  it('yields the same events however the text is split, names without line breaks', () => {
    fc.assert(
      fc.property(sseText, fc.array(fc.nat(), { maxLength: 6 }), (text, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks: string[] = [];
        let last = 0;
        for (const p of points) {
          chunks.push(text.slice(last, p));
          last = p;
        }
        chunks.push(text.slice(last));
        const whole = eventsOf([text]);
        expect(eventsOf(chunks)).toEqual(whole);
        for (const [name] of whole) expect(name.includes('\n')).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('a joined client, for any datagram from anyone but its reflector', () => {
  const fake = new FakeReflector('127.0.9.70', false);
  let a: MeshClient;
  let b: MeshClient;
  let stranger: dgram.Socket;
  let neighbour: dgram.Socket;
  const fromOthers: Buffer[] = [];
  const fromB: Buffer[] = [];

  beforeAll(async () => {
    await fake.start();
    a = new MeshClient({ join: fake.join, bindAddress: '127.0.9.71' });
    b = new MeshClient({ join: fake.join, bindAddress: '127.0.9.72' });
    a.on('warning', () => {});
    b.on('warning', () => {});
    await a.join();
    await b.join();
    a.on('data', (payload) => (payload.toString('latin1').startsWith('FROM-B') ? fromB : fromOthers).push(Buffer.from(payload)));
    stranger = dgram.createSocket('udp4');
    neighbour = dgram.createSocket('udp4');
    await new Promise<void>((r) => stranger.bind(0, '127.0.9.73', r));
    // Same host as the reflector, another port: still not the reflector.
    await new Promise<void>((r) => neighbour.bind(0, '127.0.9.70', r));
  });

  afterAll(async () => {
    a?.close();
    b?.close();
    stranger?.close();
    neighbour?.close();
    await fake.stop();
  });

  it('emits none of them, keeps its session, and still gets its peer\'s data', async () => {
    const session = { id: a.clientId, reflector: a.reflector?.id };
    const target = a.localEndpoints[0]!;
    let marker = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('stranger', 'neighbour'),
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }).map((x) => Buffer.from(x)),
          fc.uint8Array({ minLength: 32, maxLength: 32 }).map((x) => {
            const buf = Buffer.from([0, 0, 0, 0, ...x]);
            buf.writeUInt32BE(CONTROL_MAGIC, 0);
            return buf;
          }),
        ),
        async (from, bytes) => {
          const socket = from === 'stranger' ? stranger : neighbour;
          await new Promise<void>((resolve, reject) => socket.send(bytes, target.port, target.address, (err) => (err ? reject(err) : resolve())));
          const tag = `FROM-B ${++marker}`;
          b.send(Buffer.from(tag));
          const deadline = Date.now() + 3000;
          while (!fromB.some((m) => m.toString('latin1') === tag)) {
            if (Date.now() > deadline) throw new Error(`the client lost its peer's datagram ${tag} after ${bytes.toString('hex')} from the ${from}`);
            await new Promise((r) => setTimeout(r, 1));
          }
          expect(fromOthers.map((m) => m.toString('hex')), `${from}: ${bytes.toString('hex')}`).toEqual([]);
          expect({ id: a.clientId, reflector: a.reflector?.id }).toEqual(session);
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000);
});
