import { stat } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** Where a command writes: process.stdout and process.stderr, or a test's capture. */
export interface Writer {
  write(s: string): unknown;
}

/**
 * A command's answer to a mistake on its command line: `<who>: <message>`, then `after`
 * (the usage, or where to find it), on err, and exit code 2. Anything that is not a
 * UsageError is not a usage mistake and is thrown again.
 */
export function badUsage(e: unknown, err: Writer, who: string, after = ''): 2 {
  if (!(e instanceof UsageError)) throw e;
  err.write(`${who}: ${e.message}\n${after}`);
  return 2;
}

export type ArgValues = Record<string, string | boolean | string[] | undefined>;

/** The flags and positionals of a command (strict: an unknown flag is a UsageError naming it). */
export function parseCommandLine(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: ArgValues; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return parsed as { values: ArgValues; positionals: string[] };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Throws a UsageError naming the first of `paths` that cannot be read. */
export async function checkPathsExist(paths: readonly string[]): Promise<void> {
  for (const p of paths) {
    await stat(p).catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(
        `${p}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`,
      );
    });
  }
}
