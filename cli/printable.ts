/**
 * Untrusted text (feed content, reasons that quote it) made safe for one line of a
 * terminal or a TSV: control characters (C0, DEL, C1), the Unicode line and paragraph
 * separators and the bidirectional overrides are written as \xNN or \u{N}; at most `max`
 * code points are kept, then "…" and the full length. A backslash is left as it is, so
 * reasons that already quote the input as JSON stay readable; the limit is that a
 * literal "\x1b" in the input looks like an escaped ESC.
 */
export function printable(text: string, max = Number.POSITIVE_INFINITY): string {
  let out = '';
  let kept = 0;
  for (const ch of text) {
    if (kept === max) return `${out}…(${text.length} chars)`;
    const c = ch.codePointAt(0)!;
    const unsafe =
      c < 0x20 ||
      (c >= 0x7f && c < 0xa0) ||
      c === 0x2028 ||
      c === 0x2029 ||
      (c >= 0x202a && c <= 0x202e) ||
      (c >= 0x2066 && c <= 0x2069);
    out += !unsafe
      ? ch
      : c <= 0xff
        ? `\\x${c.toString(16).padStart(2, '0')}`
        : `\\u{${c.toString(16)}}`;
    kept++;
  }
  return out;
}
