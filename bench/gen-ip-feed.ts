/**
 * Generates the input of the IP ingest benchmark (bench/ip-ingest.ts): a 1,000,000
 * value-line IPv4 feed, the same bytes on every machine and every run.
 *
 * It is built from the IPsum snapshot in shared/ (real addresses, real spread) plus
 * seeded pseudo-random data that makes aggregation do real work:
 * - every IPsum address, twice;
 * - dense clusters (random addresses inside random /20s), which merge into runs;
 * - uniform random public addresses, which mostly stay single /32s;
 * - CIDRs from /12 to /30, a tenth written with host bits set ("10.1.2.3/8");
 * - repeats of earlier lines, as overlapping feeds produce;
 * shuffled, one value per line under an IPsum-like comment header.
 *
 * There is no score column on purpose: Debian's iprange, the reference, reads
 * "ip<TAB>score" as a hostname to resolve, which would benchmark its resolver rather
 * than its parser. Octets never have leading zeros (iprange reads those as octal).
 *
 * Usage: node dist/bench/gen-ip-feed.js   (prints the path; reuses an existing file
 * whose header matches this generator's version and seed).
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseIpv4, writeIpv4 } from '../lib/ip.js';
import { seededRandom } from '../test/harness/seeded-random.js';

export const IP_FEED_LINES = 1_000_000;
const SEED = 0x5eed1;
const HEADER = `# forestall bench ip feed v1 seed=${SEED} lines=${IP_FEED_LINES}\n# Derived from IPsum 2026-08-22 plus seeded random addresses and CIDRs\n#\n# IP or CIDR, one per line\n#\n`;

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/bench/ or bench/. */
const repoRoot = resolve(here, here.includes(`${join('dist', 'bench')}`) ? '../..' : '..');
export const IPSUM_SNAPSHOT = resolve(repoRoot, '../shared/feeds/ipsum/ipsum-2026-08-22.txt');

export function benchCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.FORESTALL_CACHE ?? join(homedir(), '.cache', 'forestall'), 'bench');
}

function readIpsumAddresses(path: string): number[] {
  const out: number[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const address = parseIpv4(line.split('\t')[0]!);
    if (address === undefined) throw new Error(`unexpected IPsum line: ${line}`);
    out.push(address);
  }
  return out;
}

/** A public-looking unicast address: first octet 1-223, never 10/127. */
function randomPublic(random: () => number): number {
  for (;;) {
    const address = Math.floor(random() * 4294967296);
    const first = address >>> 24;
    if (first >= 1 && first <= 223 && first !== 10 && first !== 127) return address;
  }
}

/** One value line: an address (prefix 32) or a CIDR. */
interface Entry {
  address: number;
  prefix: number;
}

export function generateEntries(ipsum: number[]): Entry[] {
  const random = seededRandom(SEED);
  const entries: Entry[] = [];
  for (const address of ipsum) entries.push({ address, prefix: 32 }, { address, prefix: 32 });

  for (let i = 0; i < 5_000; i++) {
    const prefix = 12 + Math.floor(random() * 19);
    const base = randomPublic(random);
    const hostBits = prefix === 32 ? 0 : 2 ** (32 - prefix) - 1;
    const network = (base - (base % (hostBits + 1))) >>> 0;
    // A tenth keep host bits set: both tools must read them as the network.
    const written = random() < 0.1 ? network + Math.floor(random() * hostBits) : network;
    entries.push({ address: written, prefix });
  }

  const clustered = 300_000;
  const blocks = Array.from({ length: 2_000 }, () => randomPublic(random) & ~0xfff);
  for (let i = 0; i < clustered; i++) {
    const block = blocks[Math.floor(random() * blocks.length)]!;
    entries.push({ address: (block + Math.floor(random() * 4096)) >>> 0, prefix: 32 });
  }

  const repeats = 150_000;
  const uniform = IP_FEED_LINES - entries.length - repeats;
  for (let i = 0; i < uniform; i++) entries.push({ address: randomPublic(random), prefix: 32 });
  const pool = entries.length;
  for (let i = 0; i < repeats; i++) entries.push(entries[Math.floor(random() * pool)]!);

  // Fisher-Yates with the same generator, so line order is part of the fixed output.
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const swap = entries[i]!;
    entries[i] = entries[j]!;
    entries[j] = swap;
  }
  return entries;
}

function headerMatches(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(HEADER.length);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.toString('utf8', 0, read) === HEADER;
  } finally {
    closeSync(fd);
  }
}

/** The feed's path, generating it first unless a file from this generator version is already there. */
export function ensureIpFeed(cacheDir = benchCacheDir()): string {
  const path = join(cacheDir, 'ip-1m.txt');
  if (existsSync(path) && headerMatches(path)) return path;
  mkdirSync(cacheDir, { recursive: true });
  const entries = generateEntries(readIpsumAddresses(IPSUM_SNAPSHOT));
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, HEADER);
    const buffer = Buffer.alloc(1 << 20);
    let used = 0;
    for (const { address, prefix } of entries) {
      if (used > buffer.length - 32) {
        writeSync(fd, buffer, 0, used);
        used = 0;
      }
      used = writeIpv4(buffer, used, address);
      if (prefix !== 32) used += buffer.write(`/${prefix}`, used, 'latin1');
      buffer[used++] = 0x0a;
    }
    writeSync(fd, buffer, 0, used);
  } finally {
    closeSync(fd);
  }
  // Rename last, so an interrupted run never leaves a half file that looks reusable.
  renameSync(temporary, path);
  return path;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = ensureIpFeed();
  console.log(path);
}
