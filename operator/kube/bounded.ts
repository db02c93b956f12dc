// Every Kubernetes call the operator makes where waiting forever would hurt (the Lease above all) runs
// under a deadline: an AbortSignal handed to the request (client-node aborts the fetch), and a race
// against the same deadline, so even a call that ignores its signal cannot hold the caller past it.
import { Observable, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

export class CallTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms; aborted`);
    this.name = 'CallTimeoutError';
  }
}

/**
 * Runs `call` with a signal that aborts after `timeoutMs` (or when `outer` aborts), and rejects then
 * whether or not the call heeded it. Timers, not AbortSignal.timeout, so fake clocks in tests drive it.
 */
export async function bounded<T>(what: string, timeoutMs: number, call: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onOuter: (() => void) | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    const fail = (err: Error) => {
      controller.abort(err);
      reject(err);
    };
    timer = setTimeout(() => fail(new CallTimeoutError(what, timeoutMs)), timeoutMs);
    if (outer) {
      onOuter = () => fail(new Error(`${what} aborted: ${String(outer.reason ?? 'cancelled')}`));
      if (outer.aborted) onOuter();
      else outer.addEventListener('abort', onOuter, { once: true });
    }
  });
  try {
    return await Promise.race([call(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
    if (outer && onOuter) outer.removeEventListener('abort', onOuter);
    deadline.catch(() => {}); // settled or not, nobody else awaits it
  }
}

/** client-node request options that attach `signal` to the HTTP request. */
export function withSignal(signal: AbortSignal): { middleware: ObservableMiddleware[]; middlewareMergeStrategy: 'append' } {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
