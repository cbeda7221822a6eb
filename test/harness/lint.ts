import { ESLint } from 'eslint';

/** The rule ids lint reports for `code` as if it were the file at `filePath` (from the repository root). */
export async function lintRuleIds(code: string, filePath: string): Promise<(string | null)[]> {
  const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => m.ruleId);
}
