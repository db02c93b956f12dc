// Ending a child process a test started: politely first, then for sure.
import type { ChildProcess } from 'node:child_process';

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves to its exit code (null if signalled). */
export async function terminate(child: ChildProcess | undefined, graceMs: number): Promise<number | null> {
  if (!child) return null;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  return child.exitCode;
}
