// An incremental Server-Sent Events parser (the WHATWG "event stream interpretation"): lines end with
// CRLF, LF or CR, a blank line dispatches the event, `event:` names it, `data:` lines are joined with
// LF, a leading ':' is a comment. Each chunk is scanned once (nothing is rescanned when an event spans
// many chunks), and what an unfinished event holds is bounded: a reflector, or whatever answers in its
// place, cannot make the client buffer without limit.

/** The longest event the SDK accepts (its field lines together); the reflector's are a few KiB. */
export const DEFAULT_MAX_EVENT_CHARS = 1024 * 1024;

/** The stream held an event longer than the bound; the caller closes the stream. */
export class EventTooLongError extends Error {
  override name = 'EventTooLongError';
  readonly code = 'RMESH_EVENT_TOO_LONG';
}

const LINE_END = /[\r\n]/g;

export class SseParser {
  /** The start of a line whose end has not arrived yet. */
  private partial = '';
  /** The last chunk ended with CR: an LF starting the next one belongs to that line end. */
  private afterCR = false;
  private name = '';
  private data: string[] = [];
  /** Characters held for the unfinished event: its data and name so far. */
  private held = 0;
  private failed = false;

  constructor(
    private readonly onEvent: (name: string, data: string) => void,
    private readonly maxEventChars = DEFAULT_MAX_EVENT_CHARS,
  ) {}

  /** Parses a chunk; throws EventTooLongError (and takes nothing more) once an event exceeds the bound. */
  feed(chunk: string): void {
    if (this.failed) return;
    let start = this.afterCR && chunk.startsWith('\n') ? 1 : 0;
    this.afterCR = false;
    LINE_END.lastIndex = start;
    let match: RegExpExecArray | null;
    while ((match = LINE_END.exec(chunk)) !== null) {
      const end = match.index;
      const line = this.partial === '' ? chunk.slice(start, end) : this.partial + chunk.slice(start, end);
      this.partial = '';
      this.check(line.length);
      this.line(line);
      start = end + 1;
      if (chunk.charCodeAt(end) === 13) {
        if (start === chunk.length) this.afterCR = true;
        else if (chunk.charCodeAt(start) === 10) start++;
      }
      LINE_END.lastIndex = start;
    }
    if (start < chunk.length) {
      this.check(this.partial.length + chunk.length - start);
      this.partial += chunk.slice(start);
    }
  }

  private check(lineChars: number): void {
    if (this.held + lineChars <= this.maxEventChars) return;
    this.failed = true;
    this.partial = '';
    this.data = [];
    throw new EventTooLongError(
      `the event stream sent an event longer than ${this.maxEventChars} characters (no blank line to end it); closed the stream (is this a reflector?)`,
    );
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.charCodeAt(0) === 58) return; // ':' a comment (the reflector's ": ping")
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') {
      this.held += value.length - this.name.length;
      this.name = value;
    } else if (field === 'data') {
      this.data.push(value);
      this.held += value.length + 1;
    }
    // id, retry and unknown fields are ignored: the SDK reconnects by its own rules.
  }

  private dispatch(): void {
    const name = this.name === '' ? 'message' : this.name;
    const data = this.data;
    this.name = '';
    this.data = [];
    this.held = 0;
    if (data.length > 0) this.onEvent(name, data.join('\n'));
  }
}
