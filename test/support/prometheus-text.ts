// A small strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must
// be a HELP or TYPE comment, blank, or a well-formed sample of a declared metric family.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+(-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,\s*|$)/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1} "${line}"`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
      if (!m) return; // other comments are allowed
      const family = families.get(m[2]!) ?? { name: m[2]!, type: 'untyped', help: '', samples: [] };
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3]!)) throw new Error(`${where}: unknown type`);
        family.type = m[3]!;
      } else family.help = m[3]!;
      families.set(m[2]!, family);
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const value = parseValue(m[3]!, where);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length > 0) {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`${where}: bad labels`);
      labels[l[1]!] = l[2]!;
      rest = rest.slice(l[0].length);
    }
    const name = m[1]!;
    const base = [name, name.replace(/_(bucket|sum|count)$/, '')].find((n) => families.has(n));
    if (!base) throw new Error(`${where}: sample of an undeclared metric`);
    const family = families.get(base)!;
    if (base !== name && family.type !== 'histogram' && family.type !== 'summary') throw new Error(`${where}: suffix on a ${family.type}`);
    family.samples.push({ name, labels, value });
  });
  return families;
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  if (!Number.isFinite(v) && !/^[-+]?\d/.test(text)) throw new Error(`${where}: bad value`);
  if (Number.isNaN(v)) throw new Error(`${where}: bad value`);
  return v;
}

/** The value of one sample, found by name and labels; throws if absent. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
}
