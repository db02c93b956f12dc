// The one settings table of the reflector (protocol/settings.ts, issue 16): `rmesh reflector`'s options
// are exactly its rows, the config's defaults are its defaults, and the reference in docs/protocol.md
// §4.1 is generated from it (this test fails while the doc is stale: `npm run generate:docs`).
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../../cli/reflector.js';
import { commanderParser } from '../../../cli/option-parsers.js';
import { DEFAULTS } from '../../../reflector/config.js';
import { DATA_PLANE_MODES as ENGINE_MODES } from '../../../reflector/native/select.js';
import { SettingValueError, parsePort } from '../../../protocol/setting-values.js';
import { DATA_PLANE_MODES, REFLECTOR_SETTINGS, REFERENCE_BEGIN, REFERENCE_END, reflectorEnvNames, withSettingsReference } from '../../../protocol/settings.js';
import { reflectorConfig } from '../fuzz/reflector-config.js';

const PROTOCOL_MD = new URL('../../../docs/protocol.md', import.meta.url);
const rows = Object.entries(REFLECTOR_SETTINGS);

function reflectorCommand(): Command {
  const program = new Command('rmesh');
  register(program);
  return program.commands.find((c) => c.name() === 'reflector')!;
}

describe('the settings table', () => {
  it('names each setting by its flag: key = camelCase of the flag, variable = RMESH_ + the flag in capitals', () => {
    for (const [key, s] of rows) {
      expect(s.flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), s.flag).toBe(key);
      expect(s.env, s.flag).toBe(`RMESH_${s.flag.slice(2).replace(/-/g, '_').toUpperCase()}`);
    }
    expect(new Set(reflectorEnvNames()).size).toBe(rows.length + 1);
  });

  it('is what `rmesh reflector` offers: one option per row, with its variable, default and parser', () => {
    const options = reflectorCommand().options;
    expect(options.map((o) => o.attributeName())).toEqual(Object.keys(REFLECTOR_SETTINGS));
    for (const option of options) {
      const s = REFLECTOR_SETTINGS[option.attributeName() as keyof typeof REFLECTOR_SETTINGS];
      expect(option.long).toBe(s.flag);
      expect(option.envVar).toBe(s.env);
      expect(option.defaultValue).toEqual(s.default);
      expect(option.argChoices).toEqual(s.choices === undefined ? undefined : [...s.choices]);
    }
  });

  it('gives the config its defaults, and a flag and its variable the same value', async () => {
    const config = await reflectorConfig(['--advertise-address', '127.0.0.1', '--open-mesh']);
    expect(config).toMatchObject({
      dataPort: REFLECTOR_SETTINGS.dataPort.default,
      controlPort: REFLECTOR_SETTINGS.controlPort.default,
      keepaliveIntervalMs: REFLECTOR_SETTINGS.keepaliveInterval.default,
      maxTokenLifetimeSeconds: REFLECTOR_SETTINGS.maxTokenLifetime.default,
      apiRateLimit: { perSecond: REFLECTOR_SETTINGS.apiRateLimit.default, burst: REFLECTOR_SETTINGS.apiRateBurst.default },
    });
    expect(DEFAULTS.drainTimeoutMs).toBe(REFLECTOR_SETTINGS.drainTimeout.default);
    for (const [key, s] of rows) {
      if (!s.parse || s.default === undefined) continue;
      // The default survives its own parser's view of it (a default the flag could not be given is a bug).
      const text = 'defaultHelp' in s && s.defaultHelp !== undefined ? s.defaultHelp : String(s.default);
      expect(s.parse(text), key).toEqual(s.default);
    }
  });

  it('keeps the data plane modes of the engine selector', () => {
    expect([...DATA_PLANE_MODES]).toEqual([...ENGINE_MODES]);
  });

  it('has parsers that throw SettingValueError, which the CLI turns into commander\'s InvalidArgumentError with the same message', () => {
    expect(() => parsePort('70000')).toThrow(SettingValueError);
    expect(() => commanderParser(parsePort)('70000')).toThrow(new InvalidArgumentError('"70000" is not a port number (1-65535).'));
    expect(() => REFLECTOR_SETTINGS.dataPlane.parse!('turbo')).toThrow(/not one of auto, native, js/);
  });
});

describe('the settings reference in docs/protocol.md', () => {
  it('is the table as generated (run `npm run generate:docs` after changing protocol/settings.ts)', () => {
    const doc = readFileSync(PROTOCOL_MD, 'utf8');
    expect(doc).toContain(REFERENCE_BEGIN);
    expect(withSettingsReference(doc)).toBe(doc);
    for (const [, s] of rows) expect(doc).toContain(`\`${s.env}\``);
  });

  it('is found stale when a row differs, and refused when the markers are gone', () => {
    const doc = readFileSync(PROTOCOL_MD, 'utf8');
    const stale = doc.replace('| `--data-port` | `RMESH_DATA_PORT` | 5004 |', '| `--data-port` | `RMESH_DATA_PORT` | 5005 |');
    expect(stale).not.toBe(doc);
    expect(withSettingsReference(stale)).not.toBe(stale);
    expect(() => withSettingsReference(doc.replace(REFERENCE_END, ''))).toThrow(/lost its settings markers/);
  });
});
