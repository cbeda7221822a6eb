import { stat } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake on the command line: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

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
