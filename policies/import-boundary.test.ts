import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The lint rule that keeps dependencies pointing one way must be able to fail.
describe('import boundary', () => {
  const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

  it.each(['policies/engine.ts', 'connectors/network/cilium/connector.ts'])(
    'GIVEN %s importing controller/ THEN lint reports it',
    async (filePath) => {
      const [result] = await eslint.lintText(
        "import { Manager } from '../controller/runtime/index.js';\nexport const m = Manager;\n",
        { filePath },
      );
      expect(result!.messages.map((m) => m.ruleId)).toContain('no-restricted-imports');
    },
  );

  it('GIVEN controller/ importing policies/ THEN lint allows it', async () => {
    const [result] = await eslint.lintText(
      "import { x } from './index.js';\nexport const y = x;\n",
      { filePath: 'controller/main.ts' },
    );
    expect(result!.messages.filter((m) => m.ruleId === 'no-restricted-imports')).toEqual([]);
  });
});
