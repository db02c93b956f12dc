// Recognises API server answers in client-node's exceptions (which carry the HTTP status as `code`).
import { ApiException } from '@kubernetes/client-node';

export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;

/** A short description of an API error: its status and the server's message. */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    let message = typeof body === 'string' ? body : JSON.stringify(body);
    try {
      const parsed = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: string };
      if (parsed.message) message = parsed.message;
    } catch {
      // Not JSON.
    }
    return `HTTP ${err.code}: ${message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
