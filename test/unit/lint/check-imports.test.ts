// The import checker of `npm run lint` (scripts/check-imports.js) on a planted tree: it must find a
// run-time cycle and a part importing another part's internals, and let type-only cycles and allowed
// imports pass. The repository itself is checked by `npm run lint`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImports } from '../../../scripts/check-imports.js';

const root = mkdtempSync(join(tmpdir(), 'rmesh-imports-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function plant(files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
}

describe('check-imports', () => {
  plant({
    'protocol/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
    'protocol/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    'protocol/c.ts': "import type { D } from './d.js';\nexport type C = { d?: D };\n",
    'protocol/d.ts': "import { type C } from './c.js';\nexport type D = { c?: C };\n",
    'client/z.ts': "export { a } from '../protocol/a.js';\n",
    'reflector/internal.ts': 'export const secret = 1;\n',
    'operator/x.ts': "import { secret } from '../reflector/internal.js';\nexport const x = secret;\n",
    'cli/main.ts': "import { x } from '../operator/x.js';\nimport { secret } from '../reflector/internal.js';\nexport const y = x + secret;\n",
  });
  const problems = checkImports(root);

  it('finds the run-time cycle, and not the type-only one', () => {
    expect(problems.filter((p) => p.startsWith('import cycle'))).toEqual([
      'import cycle: protocol/a.ts -> protocol/b.ts -> protocol/a.ts; break it with an interface the importer owns, or move the shared part out',
    ]);
  });

  it("finds the operator importing the reflector's internals, and lets the CLI compose both", () => {
    const crossings = problems.filter((p) => !p.startsWith('import cycle'));
    expect(crossings).toHaveLength(1);
    expect(crossings[0]).toMatch(/^operator\/x\.ts imports reflector\/internal\.ts: operator\/ may import only operator\/, protocol\/, model\/, client\//);
  });
});
