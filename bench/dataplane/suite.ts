// The dataplane suite of bench/run.ts: runDataplane with the full or the quick options.
import type { Suite } from '../lib/suite.js';
import { markdownReport } from './report.js';
import { parseArgs, runDataplane } from './run.js';

export const dataplaneSuite: Suite = {
  name: 'dataplane',
  description: "one reflector's forwarding rate, CPU-ns per datagram beside the C yardstick, latency at 50%/90% of saturation; fan-out 1, 4, 10, 30",
  async run({ quick, log }) {
    const report = await runDataplane(parseArgs(quick ? ['--quick'] : []), log);
    return { json: report, markdown: markdownReport(report) };
  },
};
