// One GET over HTTPS with the TLS material a test chooses (a CA to trust, a client certificate or none):
// the path is sent as given, so encoded path tricks reach the server unnormalised.
import { request, type RequestOptions } from 'node:https';

export interface HttpsAnswer {
  status: number;
  body: string;
}

/** GETs `options.path` from `options.host:options.port` on a connection of its own (no agent). */
export function httpsGet(options: RequestOptions): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ ...options, method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
