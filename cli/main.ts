#!/usr/bin/env node
/**
 * The `forestall` command. Subcommands are registered here explicitly; each lives in
 * its own module and returns an exit code.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runFeed } from './feed.js';
import { runDecision, runExcept } from './operate.js';
import { runStatus } from './status.js';
import { runTest } from './test-command.js';
import { runPlan } from './plan.js';
import { runReport } from './report.js';
import type { Writer } from './usage.js';
import { runValidate, VALIDATE_USAGE } from './validate.js';

// CEL `matches` runs user regular expressions over feed values. policies/cel refuses
// the patterns it can prove slow; this makes V8 fall back to its linear-time engine
// for any that still backtrack excessively, instead of stalling a reconcile.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const pkg = JSON.parse(
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8'),
) as { version: string };

/** Run as kubectl-forestall (a kubectl plugin on PATH), the help says `kubectl forestall`. */
const NAME = basename(process.argv[1] ?? '').startsWith('kubectl-')
  ? 'kubectl forestall'
  : 'forestall';

export const USAGE = `forestall ${pkg.version}: turns threat intelligence into enforced Kubernetes policy.

Usage: ${NAME} <command> [flags]

Commands:
  controller            run the operator (in a cluster, or against --kubeconfig)
  plan PATH...          run the policy engine offline on ThreatFeed and ExposurePolicy YAML,
                        local feed files and a directory of cluster objects: prints the
                        actions, their approval decisions and blast radius, and can write
                        the rendered manifests as a kustomization (--out DIR)
  validate PATH...      check ThreatFeed, ExposurePolicy and PreemptiveAction YAML offline:
                        what the API server refuses (schema, CEL rules, unknown fields)
                        and what the controller refuses (CEL that does not compile,
                        unknown connectors and params, feeds no ThreatFeed defines)
  test DIR...            run the policies against fixtures with expected results (every
                        forestall-test.yaml under DIR); prints what differs, exits 1
  feed parse FILE       parse a feed file with the controller's parsers and guardrails
                        (--list: each kept indicator and each refused input)
  report attack PATH... an ATT&CK Navigator layer of the techniques the enforced actions
                        mitigate (--planned: planned ones too; --kubeconfig: a cluster's)

Commands for the live cluster (your own kubeconfig credentials; RBAC and the audit
log apply). Installed as kubectl-forestall too, so \`kubectl forestall …\` works:
  status                feed freshness, policies, actions by phase, the oldest action
                        waiting for approval, ThreatExceptions
  approve ACTION        approve a Proposed action for its current indicators
  reject ACTION         reject a Proposed action (--reason); its indicators stay out
  lift ACTION           remove what an action applied, now
  except VALUE...       add a ThreatException (--for 24h --reason …): every policy
                        leaves the values out, and emptied actions are lifted

Flags:
  -h, --help            show this help (or a command's: forestall <command> --help)
  -v, --version         print the version

Exit status of plan, validate, test and feed parse, for CI to gate on:
  0  ran and found no problem
  1  ran and found problems: an invalid object or YAML document, CEL that does not
     compile, a policy naming a feed no ThreatFeed defines, a feed of which every
     record was refused (each problem is named on standard error)
  2  bad usage: an unknown command or flag, a missing argument, a path that cannot
     be read
The cluster commands exit 1 when the API server refuses (no such action, no RBAC
permission: its message is printed) or the action is in no state for the command.

Try: forestall plan examples
`;

/** The commands that read their arguments and write to the two streams they are given. */
const COMMANDS: Readonly<
  Record<string, (argv: string[], out: Writer, err: Writer) => Promise<number>>
> = {
  plan: runPlan,
  feed: runFeed,
  approve: (argv, out, err) => runDecision('approve', argv, out, err),
  reject: (argv, out, err) => runDecision('reject', argv, out, err),
  lift: (argv, out, err) => runDecision('lift', argv, out, err),
  test: runTest,
  except: runExcept,
  status: runStatus,
  report: runReport,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    case '-v':
    case '--version':
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    case 'controller': {
      if (rest.includes('--help') || rest.includes('-h')) {
        const { CONTROLLER_USAGE } = await import('../controller/config.js');
        process.stdout.write(CONTROLLER_USAGE);
        return 0;
      }
      const { runController } = await import('../controller/main.js');
      return runController(rest);
    }
    case 'validate':
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(VALIDATE_USAGE);
        return 0;
      }
      return runValidate(rest, process.stdout, process.stderr);
    default: {
      const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
      if (run) return run(rest, process.stdout, process.stderr);
      process.stderr.write(`forestall: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
    }
  }
}

// `forestall … | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
