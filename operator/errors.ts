// One-line descriptions of errors for logs, status and events: client-node's ApiException carries the
// whole response (headers, body) in its message; what a human needs is the status and the server's text.

export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const { code, body } = err as { code?: unknown; body?: unknown };
  if (typeof code === 'number' && body !== undefined) {
    let parsed: unknown = body;
    if (typeof body === 'string') {
      try {
        parsed = JSON.parse(body);
      } catch {
        parsed = { message: body };
      }
    }
    const message = (parsed as { message?: unknown } | null)?.message;
    return `HTTP ${code}${typeof message === 'string' ? `: ${message}` : ''}`;
  }
  return err.message;
}
