// The client token options shared by `rmesh client` and `rmesh proxy`: --token / RMESH_TOKEN (the token
// itself) or --token-file / RMESH_TOKEN_FILE (read again before every join, so a long-running proxy
// follows a token renewed in place, e.g. a mounted Secret).
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import { UsageError } from './errors.js';
import type { MeshClientOptions } from '../client/mesh-client.js';
import { hasClientTokenForm } from '../protocol/security/client-token.js';

export interface TokenFlags {
  token?: string;
  tokenFile?: string;
}

export function tokenOption(): Option {
  return new Option('--token <token>', 'client token (rmt1.…, from "rmesh token") for a mesh that has a key; not needed by an open mesh; RMESH_TOKEN keeps it out of the process list')
    .env('RMESH_TOKEN')
    .argParser(parseToken);
}

export function tokenFileOption(): Option {
  return new Option('--token-file <path>', 'file holding the client token, read again before every join (failovers too), so a token renewed in place is picked up').env('RMESH_TOKEN_FILE');
}

/** A client token as given on the command line or in RMESH_TOKEN: trimmed, checked for its form only (the mesh checks the rest). */
export function parseToken(value: string): string | undefined {
  const token = value.trim();
  if (token === '') return undefined; // RMESH_TOKEN= (empty) means none
  if (!hasClientTokenForm(token)) throw new InvalidArgumentError('not a client token (rmt1.<payload>.<tag>); mint one with "rmesh token".');
  return token;
}

/** The SDK's token option from the flags; a token file is checked once now (exit 2 when unusable). */
export function clientToken(flags: TokenFlags): MeshClientOptions['token'] | undefined {
  // An empty RMESH_TOKEN reaches here as '' (commander keeps the raw value when the parser gives none).
  const fixed = flags.token === '' ? undefined : flags.token;
  if (fixed !== undefined && flags.tokenFile !== undefined && flags.tokenFile !== '') {
    throw new UsageError('give the client token with --token (RMESH_TOKEN) or --token-file (RMESH_TOKEN_FILE), not both.');
  }
  if (flags.tokenFile === undefined || flags.tokenFile === '') return fixed;
  const path = flags.tokenFile;
  const read = (): string => {
    const token = readFileSync(path, 'utf8').trim();
    if (!hasClientTokenForm(token)) throw new Error(`${path} does not hold a client token (rmt1.<payload>.<tag>)`);
    return token;
  };
  try {
    read();
  } catch (err) {
    throw new UsageError(`--token-file: ${(err as Error).message}`);
  }
  return read;
}
