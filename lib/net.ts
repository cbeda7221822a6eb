/**
 * The one IP library (STYLE.md 10): parsing and formatting of both families with one
 * set of strict rules (ip.ts; embedded IPv4 forms judged as IPv4), the special-purpose
 * ranges (special-ranges.ts), and CIDR aggregation (cidr-aggregate.ts). Engine folders
 * import it from here; feeds/ re-exports it for its own users.
 */
export * from './ip.js';
export * from './cidr-aggregate.js';
export * from './special-ranges.js';
