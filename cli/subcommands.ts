// The list of subcommands. Each module exports a `register(program)` that adds one subcommand;
// adding a subcommand is one import and one line here.
import type { Command } from 'commander';
import { register as registerClient } from './client.js';
import { register as registerDemo } from './demo.js';
import { register as registerOperator } from './operator.js';
import { register as registerPlan } from './plan.js';
import { register as registerProxy } from './proxy.js';
import { register as registerReflector } from './reflector.js';
import { register as registerToken } from './token.js';

type Register = (program: Command) => void;

const registrations: Register[] = [registerClient, registerDemo, registerOperator, registerPlan, registerProxy, registerReflector, registerToken];

export function registerSubcommands(program: Command): void {
  for (const register of registrations) register(program);
}
