// The `rmesh` program, loaded by the entry point (rmesh.ts) once the Node version is known to be good.
// Each subcommand lives in its own file beside this one and registers itself on the program; this file
// only wires them and maps usage errors to exit code 2.
import { Command, CommanderError } from 'commander';
import { registerSubcommands } from './subcommands.js';
import { EXIT_USAGE, UsageError } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('rmesh')
    .description('reflector-mesh: a scalable full mesh of UDP/RTP reflectors, and its Kubernetes operator')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerSubcommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; every other parse failure is a usage error.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`rmesh: ${err.message}\n(run with --help for usage)\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`rmesh: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

