// A small JSON-over-HTTP helper for the control API, used by the client SDK and by reflectors talking
// to their peers. Errors become MeshError with the protocol's code, or RMESH_UNREACHABLE when the
// reflector could not be reached in time.
import { MeshError } from './types.js';

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT';
  body?: unknown;
  token?: string;
  /** Signs the request instead of the token (peer requests of a mesh with a key): the Authorization value. */
  authorize?: (method: string, path: string, body: string) => string;
  timeoutMs: number;
}

export function controlUrl(host: string, port: number, path: string): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}${path}`;
}

export async function requestJson<T>(url: string, options: RequestOptions): Promise<T> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const method = options.method ?? (options.body === undefined ? 'GET' : 'POST');
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (options.authorize) {
    const u = new URL(url);
    headers.authorization = options.authorize(method, `${u.pathname}${u.search}`, body ?? '');
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new MeshError(`cannot reach ${url}: ${cause}`, 'RMESH_UNREACHABLE', 0);
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    let code = `HTTP_${response.status}`;
    let message = `${url} answered ${response.status}`;
    try {
      const body = JSON.parse(text) as { code?: string; message?: string };
      if (body.code) code = body.code;
      if (body.message) message = `${url}: ${body.message}`;
    } catch {
      // not JSON: keep the generic message
    }
    throw new MeshError(message, code, response.status, retryAfterMs(response.headers.get('retry-after')));
  }
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/** Retry-After in seconds (the form the reflector sends); an HTTP date or garbage counts as absent. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d{1,6}$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}
