// What a benchmark suite is to the runner (bench/run.ts): a name, a function that runs it, and what it
// hands back: a JSON document, a Markdown section, and SVG plots where a curve says more than numbers.

export interface SuiteContext {
  quick: boolean;
  /** Progress, one line at a time (the runner prefixes the elapsed time and the suite's name). */
  log: (message: string) => void;
}

export interface SuiteResult {
  /** The suite's whole result, written as bench/results/<suite>-<stamp>.json. */
  json: unknown;
  /** A Markdown section (## heading, tables), written as .md and into the run's summary. */
  markdown: string;
  /** Plot name → SVG text, written as bench/results/<suite>-<stamp>-<name>.svg. */
  svgs?: Record<string, string>;
}

export interface Suite {
  name: string;
  description: string;
  run(context: SuiteContext): Promise<SuiteResult>;
}
