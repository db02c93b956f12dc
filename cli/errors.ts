// Exit codes and the error type for bad command-line input, shared by every subcommand.

/** Exit code for bad flags or arguments (the convention of getopt-based tools). */
export const EXIT_USAGE = 2;

/** Thrown for input a user must fix; the entry point prints the message and exits with EXIT_USAGE. */
export class UsageError extends Error {
  override name = 'UsageError';
}
