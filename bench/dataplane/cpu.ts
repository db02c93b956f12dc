// CPU time of another process, in nanoseconds: the sum over its threads of the scheduler's on-CPU time
// (/proc/PID/task/*/schedstat, nanosecond resolution; the same clock getrusage sums), falling back to
// utime+stime of /proc/PID/stat (clock ticks) where schedstat is missing.
import { readdirSync, readFileSync } from 'node:fs';

export function processCpuNs(pid: number): number {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // a thread that ended between the listing and the read
      }
    }
    return total;
  } catch {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) * (1e9 / 100);
  }
}
