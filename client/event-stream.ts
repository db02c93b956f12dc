// Reads a Server-Sent Events stream (the session events of docs/protocol.md §3.1) over a plain HTTP
// request, so the client notices a dead reflector: every chunk, including the ": ping" comment sent
// each second, counts as a sign of life. The parsing (and its bound on an event's size) is sse-parser.ts.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { DEFAULT_MAX_EVENT_CHARS, SseParser } from './sse-parser.js';

export interface EventStreamEvents {
  event: [name: string, data: string];
  alive: [];
  closed: [error: Error | undefined];
}

export class EventStream extends EventEmitter<EventStreamEvents> {
  private request: http.ClientRequest | undefined;
  private readonly parser: SseParser;
  private done = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
    maxEventChars = DEFAULT_MAX_EVENT_CHARS,
  ) {
    super();
    this.parser = new SseParser((name, data) => this.emit('event', name, data), maxEventChars);
  }

  open(): void {
    const request = http.get(this.url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${this.token}` },
      timeout: this.timeoutMs,
    });
    this.request = request;
    request.on('timeout', () => request.destroy(new Error(`no answer from ${this.url} within ${this.timeoutMs} ms`)));
    request.on('error', (err) => this.finish(err));
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        this.finish(new Error(`${this.url} answered ${response.statusCode}`));
        return;
      }
      request.setTimeout(0);
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => this.feed(chunk));
      response.on('end', () => this.finish(undefined));
      response.on('error', (err) => this.finish(err));
    });
  }

  close(): void {
    this.done = true;
    this.request?.destroy();
    this.removeAllListeners();
  }

  private feed(chunk: string): void {
    if (this.done) return;
    this.emit('alive');
    try {
      this.parser.feed(chunk);
    } catch (err) {
      // An event past the bound: nothing more is read; the stream ends with the reason.
      this.request?.destroy();
      this.finish(new Error(`${this.url}: ${(err as Error).message}`, { cause: err }));
    }
  }

  private finish(error: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.emit('closed', error);
  }
}
