#!/usr/bin/env node
// The one command-line entry point. It checks the Node version first, with a module that links on any
// Node, and only then loads the program: on an unsupported Node the user reads one line saying so
// instead of whatever the first newer API or dependency would throw.
import { requireSupportedNode } from './node-support.js';

requireSupportedNode('rmesh', 'install Node.js 24 LTS (in a checkout, `npm run demo` and `npm test` fetch the pinned one by themselves)');
const { main } = await import('./program.js');
await main(process.argv);
