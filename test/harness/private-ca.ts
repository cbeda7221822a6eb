/**
 * An HTTPS server on 127.0.0.1 whose certificate comes from a private CA made for it: the
 * "internal feed behind a corporate CA" of issue 16. The certificate names the address
 * (IP:127.0.0.1) and `localhost`, so clients verify it with no serverName override, and
 * fail to unless they trust the CA: the CA is in no public store.
 *
 * It serves fixed bodies by path (`routes`: a feed, an API answer, or the files of a bare
 * git repository for git's "dumb" http transport), records each request path, and
 * answers 404 otherwise. The CA's PEM is also written to a file (`caFile`), as the chart mounts it for
 * NODE_EXTRA_CA_CERTS. Certificates are made with the `openssl` command (Node cannot make
 * X.509 certificates); without it the server refuses to start, saying so.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateCaServer {
  /** https://127.0.0.1:<port> */
  url: string;
  port: number;
  /** The private CA's certificate (PEM). */
  caPem: string;
  /** A file holding caPem, removed by close(). */
  caFile: string;
  /** Request paths in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startPrivateCaServer(
  routes: Record<string, { type: string; body: string | Buffer }>,
): Promise<PrivateCaServer> {
  const dir = mkdtempSync(join(tmpdir(), 'forestall-private-ca-'));
  try {
    const { caPem, certPem, keyPem } = issue(dir);
    const caFile = join(dir, 'private-ca.pem');
    writeFileSync(caFile, caPem);
    const requests: string[] = [];
    const server = createServer({ key: keyPem, cert: certPem }, (req, res) => {
      const path = req.url ?? '/';
      requests.push(path);
      // The query is ignored, as a static server does (git asks info/refs?service=…).
      const route = routes[path.replace(/\?.*$/, '')];
      if (route === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res
        .writeHead(200, {
          'content-type': route.type,
          'content-length': Buffer.byteLength(route.body),
        })
        .end(route.body);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return {
      url: `https://127.0.0.1:${port}`,
      port,
      caPem,
      caFile,
      requests,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A two-day CA and a server certificate for 127.0.0.1 and localhost signed by it, in `dir`. */
function issue(dir: string): { caPem: string; certPem: string; keyPem: string } {
  const run = (args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT')
        throw new Error(
          'The private-CA server needs the `openssl` command (apt-get install openssl)',
        );
      throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`);
    }
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run([
    'req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
    '-subj', '/CN=Forestall private test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  run(['req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  run([
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key',
    '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.crt',
  ]); // prettier-ignore
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  const pems = { caPem: read('ca.crt'), certPem: read('server.crt'), keyPem: read('server.key') };
  // Only the CA's certificate stays on disk (written by the caller); its key goes now.
  for (const file of ['ca.key', 'ca.srl', 'server.key', 'server.csr', 'server.ext'])
    rmSync(join(dir, file), { force: true });
  return pems;
}
