// Chooses the data plane for --data-plane auto|native|js: auto takes the native engine when its addon
// loads and falls back to the TypeScript engine otherwise, saying why; native insists (an error names
// the reason and the fix); js always runs the TypeScript engine.
import type { DataPlaneEngine, EngineOptions } from '../mirror/engine.js';
import { JsEngine } from '../mirror/js-engine.js';
import { loadNativeMirror, type NativeLoad } from './addon.js';
import { NativeEngine, NativeEngineUnavailableError } from './native-engine.js';

import type { DataPlaneMode } from '../../protocol/settings.js';

// The modes are a row of the settings table (--data-plane); declared there once.
export { DATA_PLANE_MODES, type DataPlaneMode } from '../../protocol/settings.js';

export interface EngineChoice {
  engine: DataPlaneEngine;
  /** Set when auto fell back to the TypeScript engine: why the native one did not load (log it). */
  fallbackReason?: string;
}

export function createDataPlaneEngine(mode: DataPlaneMode, options: EngineOptions, load: () => NativeLoad = loadNativeMirror): EngineChoice {
  if (mode === 'js') return { engine: new JsEngine(options) };
  const loaded = load();
  if (loaded.ok) return { engine: new NativeEngine(options, loaded.addon) };
  if (mode === 'native') {
    throw new NativeEngineUnavailableError(`--data-plane native: ${loaded.reason}; or run with --data-plane auto or js`);
  }
  return { engine: new JsEngine(options), fallbackReason: loaded.reason };
}
