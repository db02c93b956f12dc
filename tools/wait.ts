// The project's one way to wait for something: poll a condition until it holds, and fail naming what
// was awaited (and the last error the probe threw). The tools (the demo, the benchmarks) and the tests
// (through test/support/wait.ts) synchronise on a condition with it, never on a sleep of a guessed
// length; sleep() is for time passing as such (a stall held for N seconds, traffic paced over a period).

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Between probes (default 50 ms; a unit test on in-process state may poll faster). */
  intervalMs?: number;
  /** What is awaited, for the error. */
  what?: string;
  /** Checked before every probe: a reason to give up at once (a process that exited, say), or undefined. */
  giveUpIf?: () => string | undefined;
}

/**
 * Polls `probe` until it returns something other than false or undefined, and resolves to that (true
 * for a plain condition). A probe that throws counts as "not yet"; its last error is in the timeout's message.
 */
export async function waitFor<T>(probe: () => T | false | undefined | Promise<T | false | undefined>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    const reason = options.giveUpIf?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${options.what ?? 'a condition'}: ${reason}`);
    try {
      const value = await probe();
      if (value !== false && value !== undefined) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - started >= timeoutMs) break;
    await sleep(options.intervalMs ?? 50);
  }
  const detail = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'a condition'}${detail}`);
}

/** Time passing, when that is what a test is about (see the top of this file). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
