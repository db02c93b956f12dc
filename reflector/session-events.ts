// The Server-Sent Events a reflector sends one client (docs/protocol.md §3.1): the reflector list,
// migration orders and bye. Events sent while the client has no stream open wait for the next one,
// so a migration order reaches a client that is reconnecting.
import type { ServerResponse } from 'node:http';
import { ERROR_CODES, errorBody } from '../protocol/errors.js';

const MAX_QUEUED = 16;

export class SessionEvents {
  private readonly streams = new Set<ServerResponse>();
  private queued: string[] = [];
  private closed = false;

  /** Adopts a hijacked response as an event stream; `first` events go to it before anything queued. */
  attach(response: ServerResponse, first: [name: string, data: unknown][]): void {
    if (this.closed) {
      response.writeHead(410, { 'content-type': 'application/json' });
      response.end(JSON.stringify(errorBody(410, ERROR_CODES.SESSION_ENDED, 'the session has ended; join again')));
      return;
    }
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    for (const [name, data] of first) response.write(format(name, data));
    for (const text of this.queued) response.write(text);
    this.queued = [];
    this.streams.add(response);
    response.on('close', () => this.streams.delete(response));
  }

  get connected(): number {
    return this.streams.size;
  }

  send(name: string, data: unknown): void {
    if (this.closed) return;
    const text = format(name, data);
    if (this.streams.size === 0) {
      this.queued.push(text);
      if (this.queued.length > MAX_QUEUED) this.queued.shift();
      return;
    }
    for (const s of this.streams) s.write(text);
  }

  ping(): void {
    for (const s of this.streams) s.write(': ping\n\n');
  }

  /** Ends every stream, after a `bye` event when a reason is given. */
  close(byeReason?: string): void {
    if (this.closed) return;
    if (byeReason !== undefined) for (const s of this.streams) s.write(format('bye', { reason: byeReason }));
    this.closed = true;
    for (const s of this.streams) s.end();
    this.streams.clear();
    this.queued = [];
  }
}

function format(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
