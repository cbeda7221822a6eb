/**
 * The CA file git verifies https remotes with once the operator adds a CA bundle (the
 * chart's `caBundle`, NODE_EXTRA_CA_CERTS for Node). git takes one file (GIT_SSL_CAINFO),
 * and that file REPLACES its system bundle, so pointing git at the operator's bundle alone
 * would lose every public root. This writes the union instead: the bundle git would use
 * otherwise (when it exists), then the certificates the controller's own clients trust
 * (Node's bundled roots and the extra bundle, lib/http defaultCaCertificates). git and
 * the controller then trust the same CAs, whatever the image's system store holds.
 *
 * Written once at start into a directory the controller owns (the root filesystem is
 * read-only in the chart; the temp dir is an emptyDir), mode 0644: public certificates.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Where Debian's ca-certificates (the image's git) keeps the system bundle. */
export const DEBIAN_SYSTEM_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

export async function writeGitCaBundle(
  path: string,
  parts: {
    /** The bundle git uses without GIT_SSL_CAINFO; skipped when the file is missing. */
    systemFile?: string;
    /** PEM certificates to add (each one certificate or several). */
    certificates: readonly string[];
  },
): Promise<string> {
  const pems: string[] = [];
  if (parts.systemFile !== undefined && existsSync(parts.systemFile))
    pems.push(readFileSync(parts.systemFile, 'utf8').trim());
  pems.push(...parts.certificates.map((pem) => pem.trim()));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${pems.filter((p) => p !== '').join('\n')}\n`, { mode: 0o644 });
  return path;
}
