// Request limits of the HTTP servers (the reflector's control API and the operator's endpoints), see
// docs/security.md "Limits": a token bucket per source address, checked in onRequest (before the body is
// read), answering 429 with Retry-After; a clear 413 for bodies above the route's limit; and the server
// timeouts that keep slow or idle connections from holding sockets. A dozen lines of token bucket do
// what @fastify/rate-limit would (its fixed window and four more packages did not earn their place),
// with the same arithmetic as the data plane's per-client limit (token-bucket.ts). It lives in protocol/
// because both control servers, the reflector's and the operator's, harden themselves with it.
import { isIPv4 } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, errorBody } from './errors.js';
import { RatePolicer, TokenBucket } from './token-bucket.js';

export interface RequestRateLimit {
  /** Requests per second each source address may make; 0 = no limit. */
  perSecond: number;
  /** Requests a source may make at once after a quiet spell (the bucket depth). */
  burst: number;
}

/** Timeouts every server of the project sets (milliseconds). */
export const SERVER_TIMEOUTS = {
  /** A request must arrive whole (headers and body) within this long. */
  requestTimeout: 10_000,
  /** A socket idle this long is closed (event streams turn it off for themselves). */
  connectionTimeout: 30_000,
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeout: 5_000,
  // Node checks the request timeout only this often (default 30 s, which would let a slow request
  // hold its socket three times longer than the timeout says), and it takes the timeout (and the
  // headers timeout derived from it) only when the server is created, not from fastify's later setting.
  http: { connectionsCheckingInterval: 1_000, requestTimeout: 10_000 },
} as const;

/** Most source addresses remembered; the least recently seen is forgotten first (it starts full again). */
const MAX_SOURCES = 10_000;

/**
 * The key of a source address: IPv4 as is (also when v4-mapped), IPv6 by its /64, the block one host or
 * one site usually has, so one machine cannot spread its requests over a prefix's addresses.
 */
export function sourceKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIPv4(ip) || !ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** Token buckets per source; bounded in memory. */
export class SourceLimiter {
  private readonly policer: RatePolicer;
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly limit: RequestRateLimit,
    private readonly maxSources = MAX_SOURCES,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) throw new RangeError('a request rate limit needs perSecond > 0 and burst >= 1');
    // A request is one "packet" of no size: the bytes bucket is off.
    this.policer = new RatePolicer({ packetsPerSecond: limit.perSecond, bitsPerSecond: 0, burstMs: (1000 * limit.burst) / limit.perSecond }, 0);
  }

  /** Takes a request's token for `key`: 0 when it may go on, otherwise the seconds until it may retry. */
  take(key: string, nowMs: number): number {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key); // re-inserted below: Map order is the recency order
    } else {
      bucket = new TokenBucket();
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, bucket);
    if (this.policer.admit(bucket, 0, nowMs)) return 0;
    return Math.max(1, Math.ceil((1 - bucket.packets) / this.limit.perSecond));
  }

  /** Seconds until `key` has a token again (0 = it has one now), without taking it. */
  wait(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket || bucket.at === 0) return 0;
    const elapsed = Math.max(0, nowMs - bucket.at);
    const packets = Math.min(this.policer.burstPackets, bucket.packets + elapsed * this.policer.packetsPerMs);
    if (packets >= 1) return 0;
    return Math.max(1, Math.ceil((1 - packets) / this.limit.perSecond));
  }

  get sources(): number {
    return this.buckets.size;
  }
}

export interface RequestLimitOptions {
  /** Undefined or perSecond 0: no rate limit. */
  rate?: RequestRateLimit | undefined;
  /** Requests that never count (say, the operator and peers with the admin token). */
  exempt?: (request: FastifyRequest) => boolean;
  /** Called for each request refused, for logs and metrics. */
  onLimited?: (request: FastifyRequest, key: string) => void;
}

/** Adds the per-source rate limit to a server (before its routes are registered). */
export function installRateLimit(app: FastifyInstance, options: RequestLimitOptions): SourceLimiter | undefined {
  const rate = options.rate;
  if (!rate || rate.perSecond <= 0) return undefined;
  const limiter = new SourceLimiter(rate);
  app.addHook('onRequest', rateLimitHook(limiter, options));
  return limiter;
}

/** The onRequest hook that takes a token of `limiter` for each request (one limiter may serve several scopes). */
export function rateLimitHook(limiter: SourceLimiter, options: Omit<RequestLimitOptions, 'rate'> = {}) {
  return (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    if (options.exempt?.(request) === true) return done();
    const key = sourceKey(request.ip);
    const retryAfter = limiter.take(key, performance.now());
    if (retryAfter === 0) return done();
    options.onLimited?.(request, key);
    sendRateLimited(reply, limiter.limit, key, retryAfter);
  };
}

/** The 429 answer: Retry-After and a message naming the limit. */
export function sendRateLimited(reply: FastifyReply, rate: RequestRateLimit, key: string, retryAfter: number, what = 'requests'): void {
  void reply
    .code(429)
    .header('retry-after', String(retryAfter))
    .send(
      errorBody(
        429,
        ERROR_CODES.RATE_LIMITED,
        `too many ${what} from ${key}: the limit is ${rate.perSecond} per second with bursts of ${rate.burst}; retry after ${retryAfter} s`,
      ),
    );
}

/** The 413 of a body above the route's limit, or undefined for any other error. */
export function bodyTooLarge(error: { code?: string }, request: FastifyRequest): ReturnType<typeof errorBody> | undefined {
  if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return undefined;
  const limit = request.routeOptions.bodyLimit;
  return errorBody(
    413,
    ERROR_CODES.BODY_TOO_LARGE,
    `the request body is larger than ${limit ?? 'the'} bytes ${request.method} ${request.routeOptions.url ?? request.url} accepts; send a smaller body (see GET /openapi.json)`,
  );
}
