// A ReflectorConfig exactly as `rmesh reflector ARGV` would build it (the real flags, defaults and
// checks), without starting anything: the subcommand's action is swapped for one that keeps the config.
import { Command } from 'commander';
import { register, toConfig } from '../../../cli/reflector.js';
import type { ReflectorConfig } from '../../../reflector/config.js';

/** `env` is what toConfig reads beyond the flags (RMESH_MESH_KEY); commander reads process.env for the flags. */
export async function reflectorConfig(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<ReflectorConfig> {
  const program = new Command('rmesh').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  register(program);
  let config: ReflectorConfig | undefined;
  const command = program.commands.find((c) => c.name() === 'reflector')!;
  command.exitOverride().action((flags: Parameters<typeof toConfig>[0]) => {
    config = toConfig(flags, env);
  });
  await program.parseAsync(['reflector', ...argv], { from: 'user' });
  if (!config) throw new Error(`rmesh reflector ${argv.join(' ')} built no config`);
  return config;
}
