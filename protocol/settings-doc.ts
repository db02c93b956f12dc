// `npm run generate:docs`: writes the settings reference of docs/protocol.md §4.1 from the table in
// protocol/settings.ts (test/unit/reflector/settings.test.ts fails while the doc is stale).
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsReference } from './settings.js';

const path = new URL('../../docs/protocol.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = withSettingsReference(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? 'docs/protocol.md: settings reference up to date\n' : 'docs/protocol.md: settings reference rewritten\n');
