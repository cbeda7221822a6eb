/**
 * Go-style durations ("1h30m", "2s", "250ms"), the syntax the CRDs' duration fields
 * accept (metav1.Duration). Shared by the controller, the policy engine and the CLI.
 */
const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Milliseconds; throws RangeError naming the text when it is not a duration. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (!text || consumed !== text.length)
    throw new RangeError(
      `invalid duration ${JSON.stringify(text)}; expected e.g. 90s, 15m or 1h30m`,
    );
  return Math.round(total);
}
