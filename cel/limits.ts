/**
 * The limits every policy expression is compiled against.
 *
 * cel-js has no run-time cost or time limit: an expression runs to the end once it
 * starts, synchronously. So everything is bounded before it runs, at compile time:
 *
 * 1. The source is at most {@link MAX_SOURCE_LENGTH} characters.
 * 2. The parser's structural limits ({@link CEL_PARSE_LIMITS}): syntax nodes, nesting
 *    depth, list and map literal sizes, call arguments.
 * 3. A worst-case cost estimate ({@link MAX_ESTIMATED_COST}, see analysis.ts), the idea
 *    of Kubernetes' CEL cost budget: about one unit per node evaluated and per list
 *    element visited, a tenth of a unit per character scanned. Comprehensions multiply
 *    by the size of what they range over, so nested loops over long lists, strings
 *    doubled again and again with cel.bind, or replace() chains that grow a string are
 *    refused. Input sizes are assumed at the bounds in {@link ASSUMED_INPUT_BOUNDS}.
 * 4. Regular expressions must be safe literals (regex.ts).
 *
 * A budget of one million units is roughly a millisecond of work. A typical match
 * expression estimates at a few hundred to a few thousand units, a regex over every
 * tag at about a hundred thousand, a loop nested in another over two input lists at
 * about eighty thousand; a third level of nesting is refused.
 */

export const MAX_SOURCE_LENGTH = 4096;

/** Passed to cel-js; exceeding one is a parse error (`limit_exceeded`). */
export const CEL_PARSE_LIMITS = Object.freeze({
  maxAstNodes: 1024,
  maxDepth: 32,
  maxListElements: 512,
  maxMapEntries: 128,
  maxCallArguments: 8,
});

export const MAX_ESTIMATED_COST = 1_000_000;

/**
 * What the cost estimate assumes about the data, since the feed decides it. Canonical
 * indicator values are at most 8192 characters (feeds/normalise.ts); the list and map
 * bounds cover the feed formats we read (KEV gives two tags, MISP events a few dozen),
 * but they are assumptions, not enforced limits: an indicator with more tags is still
 * evaluated, it just costs more than estimated.
 */
export const ASSUMED_INPUT_BOUNDS = Object.freeze({
  valueLength: 8192,
  shortStringLength: 253,
  listLength: 64,
  listItemLength: 128,
  attributeEntries: 64,
  attributeValueLength: 1024,
});
