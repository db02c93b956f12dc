// Reads a Server-Sent Events stream (the session events of docs/protocol.md §3.1) over a plain HTTP
// request, so the client notices a dead reflector: every chunk, including the ": ping" comment sent
// each second, counts as a sign of life.
import { EventEmitter } from 'node:events';
import http from 'node:http';

export interface EventStreamEvents {
  event: [name: string, data: string];
  alive: [];
  closed: [error: Error | undefined];
}

export class EventStream extends EventEmitter<EventStreamEvents> {
  private request: http.ClientRequest | undefined;
  private buffer = '';
  private done = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {
    super();
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
    this.emit('alive');
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) this.emit('event', name, data.join('\n'));
    }
  }

  private finish(error: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.emit('closed', error);
  }
}
