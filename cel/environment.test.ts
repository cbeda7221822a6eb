import { readFileSync } from 'node:fs';
import { Environment } from '@marcbachmann/cel-js';
import { describe, expect, it } from 'vitest';
import { celEnvironment, celVariables } from './environment.js';

describe('the policy CEL environments', () => {
  it('GIVEN each kind THEN it declares exactly its variables', () => {
    expect(celVariables('match')).toEqual({
      indicator: 'Indicator',
      workload: 'Workload',
      now: 'google.protobuf.Timestamp',
    });
    expect(celVariables('autoApprove')).toEqual({
      action: 'Action',
      now: 'google.protobuf.Timestamp',
    });
    expect(celEnvironment('match').hasVariable('action')).toBe(false);
    expect(celEnvironment('autoApprove').hasVariable('indicator')).toBe(false);
    expect(celEnvironment('autoApprove').hasVariable('workload')).toBe(false);
  });

  it('GIVEN the functions this folder adds to cel-js THEN README.md documents every one', () => {
    const builtIn = new Set(new Environment().getDefinitions().functions.map((f) => f.signature));
    // registerType adds a type(X) overload per custom type; that is cel-js's own type().
    const added = new Set(
      celEnvironment('match')
        .getDefinitions()
        .functions.filter((f) => !builtIn.has(f.signature) && f.name !== 'type')
        .map((f) => f.name),
    );
    expect(added.size).toBeGreaterThan(30);
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    expect([...added].filter((name) => !readme.includes(`${name}(`))).toEqual([]);
  });
});
