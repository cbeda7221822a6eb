import { describe, expect, it } from 'vitest';
import { lintRuleIds } from '../test/harness/lint.js';

// lib/ is the kernel every folder imports (STYLE.md 10), so it imports none of them.
describe('lib/ is a leaf', () => {
  it.each([
    '../feeds/index.js',
    '../notify/index.js',
    '../controller/runtime/index.js',
    '../test/harness/outbound.js',
  ])('GIVEN lib/ code importing %s THEN lint reports it', async (from) => {
    const code = `import { x } from '${from}';\nexport const y = x;\n`;
    expect(await lintRuleIds(code, 'lib/errors.ts')).toContain('no-restricted-imports');
  });

  it('GIVEN lib/ importing lib/ and node: modules THEN lint allows it', async () => {
    const code =
      "import { gzipSync } from 'node:zlib';\nimport { redact } from './redact.js';\nexport const y = [gzipSync, redact];\n";
    expect(await lintRuleIds(code, 'lib/errors.ts')).not.toContain('no-restricted-imports');
  });
});
