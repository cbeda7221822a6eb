import { Environment } from '@marcbachmann/cel-js';
import { activationTypes } from './activation.js';
import { CEL_PARSE_LIMITS } from './limits.js';
import { listsLibrary } from './lists.js';
import { netLibrary } from './net.js';
import { stringsLibrary } from './strings.js';
import { urlLibrary } from './url.js';

/**
 * The CEL environments: two of an ExposurePolicy and one of a ThreatFeed.
 *
 * - `match` (spec.match): `indicator` (Indicator), `workload` (Workload: for Isolate, the
 *   workload of an indicator × workload pair; otherwise the empty workload) and `now`
 *   (timestamp);
 * - `autoApprove` (spec.autoApprove): `action` (Action) and `now` (timestamp);
 * - `confidence` (a ThreatFeed's spec.confidence.expression): `record` (the parsed feed
 *   record, a map), returning a number. Feed content is hostile, so it is compiled under
 *   the same limits as policies (limits.ts); feeds/ingest.ts keeps records within the
 *   bounds the cost estimate assumes (ASSUMED_INPUT_BOUNDS).
 *
 * All have cel-js's standard library (operators, macros all/exists/exists_one/filter/
 * map, cel.bind, has, size, string and timestamp functions, duration()) plus the
 * libraries of this folder, each a plain `(env) => env` function. Undeclared variables
 * are compile errors.
 *
 * An Environment is expensive to build and immutable once cloned, so each kind is
 * built on first use and then shared; nothing in it changes after that.
 */

export type CelKind = 'match' | 'autoApprove' | 'confidence';

/** `timestamp(indicator.firstSeen)` works whether the field is a timestamp or a string, as in cel-go. */
function timeLibrary(env: Environment): Environment {
  return env.registerFunction(
    'timestamp(google.protobuf.Timestamp): google.protobuf.Timestamp',
    (t: Date) => t,
    { async: false },
  );
}

const LIBRARIES: readonly ((env: Environment) => Environment)[] = [
  activationTypes,
  netLibrary,
  urlLibrary,
  stringsLibrary,
  listsLibrary,
  timeLibrary,
];

const VARIABLES: Readonly<Record<CelKind, Readonly<Record<string, string>>>> = {
  match: { indicator: 'Indicator', workload: 'Workload', now: 'google.protobuf.Timestamp' },
  autoApprove: { action: 'Action', now: 'google.protobuf.Timestamp' },
  confidence: { record: 'map' },
};

let environments: Record<CelKind, Environment> | undefined;

function build(): Record<CelKind, Environment> {
  const base = LIBRARIES.reduce(
    (env, library) => library(env),
    new Environment({ limits: CEL_PARSE_LIMITS }),
  );
  const forKind = (kind: CelKind): Environment => {
    const env = base.clone();
    for (const [name, type] of Object.entries(VARIABLES[kind])) env.registerVariable(name, type);
    return env;
  };
  return {
    match: forKind('match'),
    autoApprove: forKind('autoApprove'),
    confidence: forKind('confidence'),
  };
}

export function celEnvironment(kind: CelKind): Environment {
  environments ??= build();
  const env = environments[kind];
  if (env === undefined) throw new TypeError(`unknown CEL expression kind ${JSON.stringify(kind)}`);
  return env;
}

/** The variables an expression of `kind` may use, with their CEL types. */
export function celVariables(kind: CelKind): Readonly<Record<string, string>> {
  return VARIABLES[kind];
}

/** Every function and method name the environments know, for "unknown function" messages. */
let functionNames: ReadonlySet<string> | undefined;
export function knownFunctionNames(): ReadonlySet<string> {
  functionNames ??= new Set(
    celEnvironment('match')
      .getDefinitions()
      .functions.map((f) => f.name),
  );
  return functionNames;
}
