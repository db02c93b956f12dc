// The SDK's session event stream parser (client/sse-parser.ts, used by event-stream.ts): every
// line ending Server-Sent Events allows (CRLF, LF, CR, also cut between chunks), the field rules, a bound
// on an event's size that closes the stream with a clear error, and one scan per chunk (an event
// spread over thousands of chunks costs linear time, not the rescans that took a client to 12 s of CPU).
import { describe, expect, it } from 'vitest';
import { EventStream } from '../../../client/event-stream.js';
import { EventTooLongError, SseParser } from '../../../client/sse-parser.js';

function parse(chunks: string[], max?: number): [string, string][] {
  const events: [string, string][] = [];
  const parser = new SseParser((name, data) => events.push([name, data]), max);
  for (const c of chunks) parser.feed(c);
  return events;
}

const REFLECTORS = '{"reflectors":[]}';

describe('the SSE parser', () => {
  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ])('parses %s-delimited events', (_name, eol) => {
    const text = `: ping${eol}event: reflectors${eol}data: ${REFLECTORS}${eol}${eol}event: bye${eol}data: {"reason":${eol}data: "left"}${eol}${eol}`;
    const expected = [
      ['reflectors', REFLECTORS],
      ['bye', '{"reason":\n"left"}'],
    ];
    expect(parse([text])).toEqual(expected);
    // Cut everywhere, also between the CR and LF of one line end.
    for (let cut = 0; cut <= text.length; cut++) expect(parse([text.slice(0, cut), text.slice(cut)]), `cut at ${cut}`).toEqual(expected);
    expect(parse([...text])).toEqual(expected);
  });

  it('keeps the field rules: one leading space dropped, message by default, no data no event', () => {
    expect(parse(['data:  two spaces\n\n'])).toEqual([['message', ' two spaces']]);
    expect(parse(['event: x\n\nevent: y\ndata\n\n'])).toEqual([['y', '']]);
    expect(parse(['data: a\r\n\r\n\r\n\r\ndata: b\r\r'])).toEqual([
      ['message', 'a'],
      ['message', 'b'],
    ]);
  });

  it('refuses an event longer than the bound, also when it arrives in small pieces', () => {
    const parser = new SseParser(() => undefined, 1000);
    parser.feed('event: reflectors\ndata: ');
    expect(() => {
      for (let i = 0; i < 100; i++) parser.feed('x'.repeat(20));
    }).toThrow(EventTooLongError);
    // Many data lines count together.
    const lines = new SseParser(() => undefined, 1000);
    expect(() => {
      for (let i = 0; i < 100; i++) lines.feed('data: 0123456789\n');
    }).toThrow(/longer than 1000 characters/);
    // Events under the bound, one after another, are fine however many.
    expect(parse(Array.from({ length: 100 }, () => `data: ${'y'.repeat(900)}\n\n`), 1000)).toHaveLength(100);
  });

  it('scans each chunk once: a 24 MiB event in 4 KiB chunks parses in linear time', () => {
    const parser = new SseParser((_n, data) => events.push(data.length), 64 * 1024 * 1024);
    const events: number[] = [];
    const chunk = 'z'.repeat(4096);
    const started = process.hrtime.bigint();
    parser.feed('data: ');
    for (let i = 0; i < 6 * 1024; i++) parser.feed(chunk);
    parser.feed('\n\n');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(events).toEqual([24 * 1024 * 1024]);
    // Rescanning the buffer each chunk is ~6000 × 12 MiB of scanning (minutes); one pass is milliseconds.
    expect(ms).toBeLessThan(3000);
  });
});

describe('the event stream', () => {
  it('closes with a clear error on an event without end, having read little of it', () => {
    const stream = new EventStream('http://127.0.9.1:1/unused', 'token', 1000);
    const closed: (Error | undefined)[] = [];
    stream.on('closed', (err) => closed.push(err));
    const feed = (stream as unknown as { feed(chunk: string): void }).feed.bind(stream);
    const chunk = 'a'.repeat(64 * 1024);
    let fed = 0;
    feed('event: reflectors\ndata: ');
    while (closed.length === 0 && fed < 8 * 1024 * 1024) {
      feed(chunk);
      fed += chunk.length;
    }
    expect(closed).toHaveLength(1);
    expect(closed[0]?.message).toMatch(/longer than 1048576 characters.*closed the stream/);
    expect(fed).toBeLessThanOrEqual(1024 * 1024 + chunk.length);
  });
});
