// --data-plane auto|native|js: auto falls back to the TypeScript engine with the reason when the addon
// does not load, native refuses to run without it, js never touches it; and the loader explains why.
import { describe, expect, it } from 'vitest';
import { tryLoad, type NativeLoad } from '../../../reflector/native/addon.js';
import { createDataPlaneEngine } from '../../../reflector/native/select.js';
import { NativeEngineUnavailableError } from '../../../reflector/native/native-engine.js';

const options = { address: '127.0.4.1', dataPort: 39990, rtp: false, maxDatagramSize: 1472 };
const missing = (): NativeLoad => ({ ok: false, reason: 'the native data plane was not built' });

describe('createDataPlaneEngine', () => {
  it('auto falls back to the TypeScript engine and says why', () => {
    const choice = createDataPlaneEngine('auto', options, missing);
    expect(choice.engine.kind).toBe('js');
    expect(choice.fallbackReason).toBe('the native data plane was not built');
  });

  it('native refuses to run without the addon, naming the reason and the way out', () => {
    expect(() => createDataPlaneEngine('native', options, missing)).toThrow(NativeEngineUnavailableError);
    expect(() => createDataPlaneEngine('native', options, missing)).toThrow(/not built.*--data-plane auto or js/);
  });

  it('js never loads the addon', () => {
    const choice = createDataPlaneEngine('js', options, () => {
      throw new Error('must not be called');
    });
    expect(choice.engine.kind).toBe('js');
    expect(choice.fallbackReason).toBeUndefined();
  });
});

describe('tryLoad', () => {
  it('names the missing file and how to build it', () => {
    const load = tryLoad(['/nonexistent/rmesh_mirror.node']);
    expect(load.ok).toBe(false);
    if (!load.ok) expect(load.reason).toMatch(/not built.*\/nonexistent\/rmesh_mirror\.node.*npm rebuild/);
  });

  it('reports a file that is not a loadable addon', () => {
    const load = tryLoad([new URL(import.meta.url).pathname]);
    expect(load.ok).toBe(false);
    if (!load.ok) expect(load.reason).toMatch(/cannot load|is not the native mirror addon/);
  });
});
