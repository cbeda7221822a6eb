/**
 * A real HTTP(S) feed server on 127.0.0.1 for the feed-source tests: it serves the
 * real feed snapshots in shared/feeds, and broken variants of them on named
 * routes, so every failure the fetcher must survive happens on a real socket.
 *
 * Routes (GET):
 * | route                         | what it does                                                                  |
 * |-------------------------------|-------------------------------------------------------------------------------|
 * | /feeds/<path>                 | the file shared/feeds/<path>; ETag, Last-Modified, 304 on a matching validator |
 * | /gzip/<path>                  | the same, Content-Encoding: gzip when the request accepts gzip                 |
 * | /gz-file/<path>               | the file gzipped, served as application/gzip without Content-Encoding          |
 * | /mutable/ipsum.txt            | IPsum as of version N (see `change()`); validators change with N              |
 * | /auth/<path>                  | like /feeds/, but 401 unless `Authorization: Bearer ${FEED_SERVER_TOKEN}`     |
 * | /redirect/metadata            | 302 to http://169.254.169.254/latest/meta-data/iam/security-credentials/      |
 * | /redirect/metadata-mapped     | 302 to http://[::ffff:169.254.169.254]/latest/meta-data/                      |
 * | /redirect/loopback            | 302 to http://127.0.0.1:<port>/feeds/ipsum/<ipsum file>                       |
 * | /redirect/chain/<n>           | n redirects (each to chain/<n-1>), then the IPsum file                        |
 * | /redirect/to?location=<url>   | 302 to <url> (cross-origin and downgrade cases)                               |
 * | /status/<code>                | that status, with a short text body                                           |
 * | /fault/truncated              | Content-Length larger than what is sent, then the socket is closed            |
 * | /fault/truncated-chunked      | chunked body, socket closed before the terminating chunk                      |
 * | /fault/truncated-gzip         | a complete HTTP response carrying the first half of a gzip stream             |
 * | /fault/garbage                | 64 KiB of pseudo-random bytes, application/octet-stream                       |
 * | /fault/garbage-gzip           | Content-Encoding: gzip over bytes that are not gzip                           |
 * | /fault/slow                   | a line every 100 ms, for at most 30 s (a total-timeout case)                 |
 * | /fault/stall                  | headers and one line, then silence for at most 30 s (an idle-timeout case)   |
 * | /fault/no-response            | reads the request and never answers (closes after 30 s)                       |
 * | /fault/oversized              | 4 MiB of lines, chunked, no Content-Length                                    |
 * | /fault/oversized-declared     | Content-Length of 4 MiB                                                       |
 * | /fault/gzip-bomb              | 8 MiB of lines compressed to a few KiB, Content-Encoding: gzip                |
 *
 * Every request is recorded (method, path, headers) so tests can assert what the
 * client sent, and what it did NOT send (credentials after a cross-origin redirect).
 *
 * The HTTPS variant uses a certificate for the name `feeds.test` (not for
 * 127.0.0.1) issued by a throwaway CA; Node 20 cannot create X.509 certificates,
 * so the `openssl` command makes them at start-up. Without openssl the HTTPS
 * server refuses to start with an error saying so, and its tests fail.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { lookup as dnsLookup } from 'node:dns';
import { Socket, isIP } from 'node:net';
import type { AddressInfo, LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** shared/feeds beside the repository (DESIGN.md: ../shared/feeds). */
export const SHARED_FEEDS_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'feeds',
);
export const IPSUM_PATH = 'ipsum/ipsum-2026-08-22.txt';
/** The bearer token /auth/ routes want. Tests assert it never appears in an error. */
export const FEED_SERVER_TOKEN = 'fst-test-token-4f1c9e27d3b8a6';
/** The DNS name in the HTTPS server's certificate. */
export const TLS_SERVER_NAME = 'feeds.test';

const MIB = 1024 * 1024;
const DRIP_INTERVAL_MS = 100;
const FAULT_MAX_MS = 30_000;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface FeedServerOptions {
  tls?: boolean;
  /** Defaults to SHARED_FEEDS_DIR. */
  feedsDir?: string;
}

export interface FeedServer {
  /** http(s)://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Requests in arrival order. */
  requests: RecordedRequest[];
  /** PEM of the CA that issued the HTTPS certificate (HTTPS variant only). */
  caPem?: string;
  /** PEM of an unrelated CA, to show that trusting the wrong CA fails (HTTPS variant only). */
  otherCaPem?: string;
  /** The IPsum content served by /mutable/ipsum.txt at `version`. */
  mutableContent(version?: number): Buffer;
  /** The current /mutable version (starts at 0). */
  version: number;
  /** Changes the /mutable content (and its validators). */
  change(): void;
  /** Requests whose path starts with `prefix`. */
  requestsTo(prefix: string): RecordedRequest[];
  close(): Promise<void>;
}

interface FileEntry {
  body: Buffer;
  etag: string;
  lastModified: Date;
}

export async function startFeedServer(options: FeedServerOptions = {}): Promise<FeedServer> {
  const feedsDir = options.feedsDir ?? SHARED_FEEDS_DIR;
  const files = new Map<string, FileEntry>();
  const timers = new Set<NodeJS.Timeout>();
  const requests: RecordedRequest[] = [];
  let version = 0;
  let port = 0;

  const readFeed = (relative: string): FileEntry | undefined => {
    const path = normalize(join(feedsDir, decodeURIComponent(relative)));
    if (!path.startsWith(feedsDir + sep)) return undefined;
    const cached = files.get(path);
    if (cached !== undefined) return cached;
    let body: Buffer;
    let mtime: Date;
    try {
      body = readFileSync(path);
      mtime = statSync(path).mtime;
    } catch {
      return undefined;
    }
    const entry = { body, etag: etagOf(body), lastModified: wholeSeconds(mtime) };
    files.set(path, entry);
    return entry;
  };

  const mutableContent = (v = version): Buffer => {
    const base = readFeed(IPSUM_PATH);
    if (base === undefined) throw new Error(`${join(feedsDir, IPSUM_PATH)} is missing`);
    if (v === 0) return base.body;
    // Each version drops the first v data lines and adds v new addresses, as a
    // real daily IPsum update does (in documentation space, 198.51.100.0/24).
    const lines = base.body.toString('utf8').split('\n');
    const firstData = lines.findIndex((line) => line !== '' && !line.startsWith('#'));
    lines.splice(
      firstData,
      v,
      ...Array.from({ length: v }, (_, i) => `198.51.100.${(i % 250) + 1}\t${v}`),
    );
    return Buffer.from(lines.join('\n'));
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://feed-server.invalid');
    requests.push({
      method: req.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: req.headers,
    });
    const path = url.pathname;
    const sendFile = (entry: FileEntry, extra: { gzip?: boolean; type?: string } = {}): void => {
      if (notModified(req, entry)) {
        res.writeHead(304, { etag: entry.etag, 'last-modified': entry.lastModified.toUTCString() });
        res.end();
        return;
      }
      const headers: Record<string, string | number> = {
        'content-type': extra.type ?? contentTypeOf(path),
        etag: entry.etag,
        'last-modified': entry.lastModified.toUTCString(),
      };
      let body = entry.body;
      if (extra.gzip === true && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
        body = gzipSync(body);
        headers['content-encoding'] = 'gzip';
        headers['vary'] = 'Accept-Encoding';
      }
      headers['content-length'] = body.length;
      res.writeHead(200, headers);
      res.end(body);
    };
    const redirect = (location: string): void => {
      res.writeHead(302, { location, 'content-length': 0 });
      res.end();
    };
    const notFound = (): void => {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    };

    if (path.startsWith('/feeds/') || path.startsWith('/gzip/') || path.startsWith('/auth/')) {
      const prefix = path.slice(0, path.indexOf('/', 1) + 1);
      if (prefix === '/auth/' && req.headers.authorization !== `Bearer ${FEED_SERVER_TOKEN}`) {
        res.writeHead(401, {
          'www-authenticate': 'Bearer realm="feeds"',
          'content-type': 'text/plain',
        });
        res.end('unauthorized\n');
        return;
      }
      const entry = readFeed(path.slice(prefix.length));
      if (entry === undefined) return notFound();
      return sendFile(entry, { gzip: prefix === '/gzip/' });
    }
    if (path.startsWith('/gz-file/')) {
      const entry = readFeed(path.slice('/gz-file/'.length));
      if (entry === undefined) return notFound();
      const body = gzipSync(entry.body);
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.length });
      res.end(body);
      return;
    }
    if (path === '/mutable/ipsum.txt') {
      const body = mutableContent();
      // Validators move with the content, like a real feed's.
      const lastModified = new Date(Date.UTC(2026, 7, 22) + version * 3_600_000);
      return sendFile(
        { body, etag: etagOf(body), lastModified },
        { type: 'text/plain; charset=utf-8' },
      );
    }
    if (path === '/redirect/metadata')
      return redirect('http://169.254.169.254/latest/meta-data/iam/security-credentials/');
    if (path === '/redirect/metadata-mapped')
      return redirect('http://[::ffff:169.254.169.254]/latest/meta-data/');
    if (path === '/redirect/loopback')
      return redirect(`http://127.0.0.1:${port}/feeds/${IPSUM_PATH}`);
    if (path.startsWith('/redirect/chain/')) {
      const n = Number(path.slice('/redirect/chain/'.length));
      if (!Number.isInteger(n) || n < 0 || n > 100) return notFound();
      if (n === 0) {
        const entry = readFeed(IPSUM_PATH);
        return entry === undefined ? notFound() : sendFile(entry);
      }
      return redirect(`/redirect/chain/${n - 1}`);
    }
    if (path === '/redirect/to') {
      const location = url.searchParams.get('location');
      if (location === null) return notFound();
      return redirect(location);
    }
    if (path.startsWith('/status/')) {
      const status = Number(path.slice('/status/'.length));
      if (!Number.isInteger(status) || status < 200 || status > 599) return notFound();
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`status ${status}\n`);
      return;
    }
    if (path.startsWith('/fault/'))
      return fault(path.slice('/fault/'.length), res, { readFeed, timers, notFound });
    notFound();
  };

  let caPem: string | undefined;
  let otherCaPem: string | undefined;
  let server: Server;
  if (options.tls === true) {
    const material = makeTlsMaterial();
    caPem = material.caPem;
    otherCaPem = material.otherCaPem;
    server = createHttpsServer({ key: material.keyPem, cert: material.certPem }, handler);
  } else {
    server = createHttpServer(handler);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const scheme = options.tls === true ? 'https' : 'http';

  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    requests,
    ...(caPem !== undefined ? { caPem } : {}),
    ...(otherCaPem !== undefined ? { otherCaPem } : {}),
    mutableContent,
    get version() {
      return version;
    },
    change() {
      version += 1;
    },
    requestsTo(prefix: string) {
      return requests.filter((r) => r.path.startsWith(prefix));
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Slow and stalled responses would otherwise hold close() open.
        server.closeAllConnections();
      });
    },
  };
}

interface FaultContext {
  readFeed: (relative: string) => FileEntry | undefined;
  timers: Set<NodeJS.Timeout>;
  notFound: () => void;
}

function fault(name: string, res: ServerResponse, ctx: FaultContext): void {
  const ipsum = ctx.readFeed(IPSUM_PATH);
  if (ipsum === undefined) throw new Error(`${IPSUM_PATH} is missing under shared/feeds`);
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      ctx.timers.delete(timer);
      fn();
    }, ms);
    ctx.timers.add(timer);
  };

  switch (name) {
    case 'truncated': {
      // Promise more than is sent, then hang up: the client must not take the half for the whole.
      const half = ipsum.body.subarray(0, Math.floor(ipsum.body.length / 2));
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': ipsum.body.length });
      res.write(half, () => later(20, () => res.socket?.destroy()));
      return;
    }
    case 'truncated-chunked': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(ipsum.body.subarray(0, 64 * 1024), () => later(20, () => res.socket?.destroy()));
      return;
    }
    case 'truncated-gzip': {
      // The HTTP framing is complete (chunked, properly terminated); only the gzip
      // stream inside stops early, as when a mirror serves a half-written file.
      const gz = gzipSync(ipsum.body);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(gz.subarray(0, Math.floor(gz.length / 2)));
      return;
    }
    case 'garbage': {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(garbage(64 * 1024));
      return;
    }
    case 'garbage-gzip': {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      res.end(garbage(16 * 1024));
      return;
    }
    case 'slow': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const lines = ipsum.body.toString('utf8').split('\n');
      let i = 0;
      const drip = (): void => {
        if (res.destroyed || i * DRIP_INTERVAL_MS >= FAULT_MAX_MS) {
          res.end();
          return;
        }
        res.write(`${lines[i % lines.length] ?? ''}\n`);
        i += 1;
        later(DRIP_INTERVAL_MS, drip);
      };
      drip();
      return;
    }
    case 'no-response': {
      // Read the request, never answer (bounded): the idle limit while waiting for headers.
      later(FAULT_MAX_MS, () => res.socket?.destroy());
      return;
    }
    case 'stall': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('# IPsum, first line only\n');
      later(FAULT_MAX_MS, () => res.end());
      return;
    }
    case 'oversized': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      void streamRepeated(res, ipsum.body, 4 * MIB);
      return;
    }
    case 'oversized-declared': {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 * MIB });
      void streamRepeated(res, ipsum.body, 4 * MIB);
      return;
    }
    case 'gzip-bomb': {
      // Highly repetitive text: 8 MiB that compresses to a few KiB on the wire.
      const line = Buffer.from('203.0.113.7\t9\n');
      const plain = Buffer.alloc(8 * MIB);
      for (let off = 0; off < plain.length; off += line.length) line.copy(plain, off);
      const gz = gzipSync(plain, { level: 9 });
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': 'gzip',
        'content-length': gz.length,
      });
      res.end(gz);
      return;
    }
    default:
      ctx.notFound();
  }
}

/** Writes `total` bytes cut from `source`, honouring backpressure, until the client goes away. */
async function streamRepeated(res: ServerResponse, source: Buffer, total: number): Promise<void> {
  const chunk = 64 * 1024;
  for (let sent = 0; sent < total && !res.destroyed; sent += chunk) {
    const start = sent % Math.max(1, source.length - chunk);
    const piece = source.subarray(start, start + Math.min(chunk, total - sent));
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  if (!res.destroyed) res.end();
}

function notModified(req: IncomingMessage, entry: FileEntry): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) {
    // RFC 9110 13.1.2: weak comparison, and If-Modified-Since is ignored when this is present.
    const tags = inm.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes('*') || tags.includes(entry.etag.replace(/^W\//, ''));
  }
  const ims = req.headers['if-modified-since'];
  if (ims !== undefined) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && entry.lastModified.getTime() <= since;
  }
  return false;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 20)}"`;
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function contentTypeOf(path: string): string {
  if (path.endsWith('.json')) return 'application/json';
  return 'text/plain; charset=utf-8';
}

/** Deterministic noise (xorshift32) that never starts with the gzip magic. */
function garbage(length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = 0x9e3779b9;
  for (let i = 0; i < length; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  out[0] = 0x00;
  return out;
}

interface TlsMaterial {
  keyPem: string;
  certPem: string;
  caPem: string;
  otherCaPem: string;
}

/**
 * A CA, a server certificate for TLS_SERVER_NAME issued by it, and a second,
 * unrelated CA. Short-lived and written only to a temporary directory that is
 * removed before returning.
 */
function makeTlsMaterial(): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-feed-tls-'));
  const openssl = (...args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') {
        throw new Error(
          'The HTTPS feed server needs the `openssl` command to make its test certificates (Node 20 cannot create X.509 certificates); install openssl (apt-get install openssl).',
        );
      }
      throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr?.toString() ?? e.message}`);
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string, cn: string): void =>
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  try {
    makeCa('ca', 'Forestall feed-server test CA');
    makeCa('other-ca', 'Forestall unrelated test CA');
    openssl(
      'req',
      ...ec,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      `/CN=${TLS_SERVER_NAME}`,
    );
    writeFileSync(
      join(dir, 'server.ext'),
      [
        `subjectAltName=DNS:${TLS_SERVER_NAME}`,
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
      ].join('\n'),
    );
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '2',
      '-extfile',
      'server.ext',
      '-out',
      'server.crt',
    );
    const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
    return {
      keyPem: read('server.key'),
      certPem: read('server.crt'),
      caPem: read('ca.crt'),
      otherCaPem: read('other-ca.crt'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LoopbackFence {
  /** Connections the fence stopped, as "host:port" or "name -> address". */
  violations: string[];
  uninstall(): void;
}

/**
 * Stops every TCP connection of this process to anything but the addresses
 * `allowed` accepts (by default only 127.0.0.1), before a packet is sent.
 *
 * The SSRF tests point the fetcher at 169.254.169.254 and private ranges and
 * expect a refusal. If the guard under test (or the test itself) were wrong, the
 * fetcher would really dial those addresses, and this machine may reach none of
 * them. The fence turns such a bug into a failed test instead of traffic: it
 * wraps net.Socket.prototype.connect, which every http, https and tls client
 * socket goes through, and checks literal hosts at once and resolved names in
 * their `lookup` (the fetcher's pinned lookup, or DNS).
 */
export function installLoopbackFence(
  allowed: (address: string) => boolean = (a) => a === '127.0.0.1' || a === '::ffff:127.0.0.1',
): LoopbackFence {
  const violations: string[] = [];
  const proto = Socket.prototype as unknown as { connect: (...args: unknown[]) => unknown };
  const original = proto.connect;
  const refuse = (socket: Socket, what: string): Socket => {
    violations.push(what);
    process.nextTick(() =>
      socket.destroy(
        Object.assign(new Error(`loopback fence: refused to connect to ${what}`), {
          code: 'EFENCED',
        }),
      ),
    );
    return socket;
  };
  proto.connect = function fencedConnect(this: Socket, ...args: unknown[]): unknown {
    // net.createConnection passes its normalised [options, callback] array; user
    // code may pass (options[, cb]) or (port[, host][, cb]).
    const first = args[0];
    const options = (Array.isArray(first) ? first[0] : first) as
      | { host?: string; port?: number; path?: string | null; lookup?: LookupFunction }
      | number
      | string;
    if (typeof options === 'string') return original.apply(this, args); // a unix socket path
    const opts =
      typeof options === 'number'
        ? { port: options, host: typeof args[1] === 'string' ? args[1] : undefined }
        : options;
    if (typeof opts.path === 'string') return original.apply(this, args);
    const host = opts.host ?? 'localhost';
    if (isIP(host) !== 0) {
      return allowed(host)
        ? original.apply(this, args)
        : refuse(this, `${host}:${String(opts.port)}`);
    }
    if (typeof options !== 'object')
      return refuse(this, `${host}:${String(opts.port)} (unchecked form)`);
    const inner: LookupFunction = options.lookup ?? (dnsLookup as unknown as LookupFunction);
    options.lookup = (hostname, lookupOptions, callback) => {
      inner(hostname, lookupOptions, (err, address, family) => {
        if (err !== null) return callback(err, address, family);
        const list = Array.isArray(address) ? address.map((a) => a.address) : [address];
        const bad = list.filter((a) => !allowed(a));
        if (bad.length > 0) {
          violations.push(`${hostname} -> ${bad.join(', ')}`);
          const fenced: NodeJS.ErrnoException = new Error(
            `loopback fence: ${hostname} resolved to ${bad.join(', ')}`,
          );
          fenced.code = 'EFENCED';
          return callback(fenced, Array.isArray(address) ? [] : '', family);
        }
        return callback(null, address, family);
      });
    };
    return original.apply(this, args);
  };
  return {
    violations,
    uninstall() {
      proto.connect = original;
    },
  };
}
