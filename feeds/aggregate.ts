/**
 * CIDR aggregation lives in the kernel now (lib/cidr-aggregate.ts, STYLE.md 10); this
 * re-export keeps the feeds' own modules (parsers/lines.ts, guardrails.ts, ingest.ts)
 * importing it where they did until they import lib directly.
 */
export * from '../lib/cidr-aggregate.js';
