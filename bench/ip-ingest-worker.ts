/**
 * One whole-process run of our IP ingest, for bench/ip-ingest.ts to time against
 * Debian's iprange: read a `lines` feed file, parse every IPv4 address and CIDR
 * straight from bytes, aggregate to the minimal CIDR cover, write it to stdout one
 * "a.b.c.d/p" per line, and print a JSON summary on stderr.
 *
 * Usage: node dist/bench/ip-ingest-worker.js <file>
 *
 * Stands in for `forestall feed parse` until that CLI exists; it calls the same
 * readIpLines/Ipv4Set the CLI will.
 */
import { createReadStream, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { writeIpv4 } from '../lib/ip.js';
import { readIpLines } from '../feeds/parsers/lines.js';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: ip-ingest-worker <file>\n');
  process.exit(2);
}

const started = performance.now();
// 1 MiB reads: fewer chunk callbacks than the 64 KiB default, same bounded memory.
const result = await readIpLines(createReadStream(file, { highWaterMark: 1 << 20 }));
const parsed = performance.now();

// Output is written as bytes in 1 MiB blocks, never as one string per CIDR.
const out = Buffer.allocUnsafe(1 << 20);
let used = 0;
let cidrs = 0;
result.v4.forEachCidr((network, prefix) => {
  if (used > out.length - 24) {
    writeAll(out, used);
    used = 0;
  }
  used = writeIpv4(out, used, network);
  out[used++] = 0x2f;
  if (prefix >= 10) out[used++] = 0x30 + ((prefix / 10) | 0);
  out[used++] = 0x30 + (prefix % 10);
  out[used++] = 0x0a;
  cidrs++;
});
writeAll(out, used);
const written = performance.now();

function writeAll(buffer: Buffer, length: number): void {
  let offset = 0;
  while (offset < length) offset += writeSync(1, buffer, offset, length - offset);
}

process.stderr.write(
  `${JSON.stringify({
    lines: result.lines,
    ipv4Lines: result.ipv4Lines,
    other: result.other.length,
    rejected: result.rejected,
    ranges: result.v4.size,
    cidrs,
    addresses: result.v4.addressCount(),
    parseMs: Math.round(parsed - started),
    aggregateAndWriteMs: Math.round(written - parsed),
  })}\n`,
);
