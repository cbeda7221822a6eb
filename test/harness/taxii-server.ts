/**
 * medallion, the OASIS TAXII 2.1 reference server, running as a real process on
 * 127.0.0.1 for the TAXII client tests (DESIGN.md: "TAXII 2.1 | medallion").
 *
 * test/taxii/setup.sh installs it (pinned, into a venv under the Forestall cache)
 * and prints the executable. The server gets a generated memory-backend data file:
 * one API root (`forestall`) whose collection holds every object of the STIX 2.1
 * examples in shared/feeds/stix/examples, each with a manifest entry whose
 * `date_added` is known (see SeededObject), plus a collection that may not be read.
 *
 * Installation or start-up failures throw with medallion's own output: the tests
 * that need it must fail, never skip, on a machine where it cannot run.
 *
 * Memory backend data layout (medallion 3.0.0, medallion/backends/memory_backend.py):
 *   { "/discovery": {...}, "<api-root>": { "information": {...}, "status": [],
 *     "collections": [ { id, title, can_read, can_write, media_types,
 *       "objects": [...STIX objects...],
 *       "manifest": [ { id, date_added, version, media_type } ] } ] } }
 * An object is only served when a manifest entry matches its id and version
 * (modified, else created, else the hidden `_date_added` field used for SCOs).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPorts } from './free-port.js';
import { runSetupScript, serverWorkDir } from './local-server.js';
import { ManagedProcess } from './managed-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const TAXII_SETUP_SCRIPT = join(HERE, '..', 'taxii', 'setup.sh');
export const STIX_EXAMPLES_DIR = join(
  HERE,
  '..',
  '..',
  '..',
  'shared',
  'feeds',
  'stix',
  'examples',
);

const MEDIA_TAXII = 'application/taxii+json;version=2.1';
const MEDIA_STIX = 'application/stix+json;version=2.1';
const API_ROOT_NAME = 'forestall';
/** medallion caps `limit` at this; the tests page far below it. */
const MAX_PAGE_SIZE = 100;

export interface SeededObject {
  id: string;
  type: string;
  /** The manifest date_added, TAXII's microsecond form. */
  dateAdded: string;
  /** The example file it came from. */
  file: string;
}

export interface TaxiiUser {
  username: string;
  password: string;
}

export interface TaxiiServer {
  /** http://127.0.0.1:<port> */
  url: string;
  discoveryUrl: string;
  /** The API root URL, with a trailing slash. */
  apiRoot: string;
  /** The collection holding the STIX examples. */
  collectionId: string;
  /** A collection that exists but has can_read: false. */
  unreadableCollectionId: string;
  user: TaxiiUser;
  /** The seeded objects in date_added order (oldest first). */
  seeded: SeededObject[];
  /** medallion's executable, as setup.sh printed it. */
  executable: string;
  /** POSTs objects to the collection through TAXII, as a producer would; medallion stamps date_added = now. */
  addObjects(objects: ReadonlyArray<Record<string, unknown>>): Promise<void>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** Runs test/taxii/setup.sh and returns the medallion executable it prints last. */
export function installMedallion(): Promise<string> {
  return runSetupScript(TAXII_SETUP_SCRIPT, {
    requiredFor: 'medallion is required for the TAXII tests',
  });
}

/** The seed: every object of the examples, de-duplicated by id and version, with known date_added values. */
export function seedObjects(examplesDir = STIX_EXAMPLES_DIR): {
  objects: Array<Record<string, unknown>>;
  manifest: unknown[];
  seeded: SeededObject[];
} {
  const files = readdirSync(examplesDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no STIX examples in ${examplesDir}`);
  const objects: Array<Record<string, unknown>> = [];
  const manifest: unknown[] = [];
  const seeded: SeededObject[] = [];
  const seen = new Set<string>();
  files.forEach((file, fileIndex) => {
    const bundle = JSON.parse(readFileSync(join(examplesDir, file), 'utf8')) as {
      objects?: Array<Record<string, unknown>>;
    };
    (bundle.objects ?? []).forEach((original, i) => {
      // One month per example file and one second per object, so that an
      // added_after between files splits the collection at a known place.
      const dateAdded = `2024-${String(fileIndex + 1).padStart(2, '0')}-01T00:00:${String(i).padStart(2, '0')}.000000Z`;
      const object = { ...original };
      const id = String(object['id']);
      const type = String(object['type']);
      // SCOs (ipv4-addr, domain-name) have no created/modified; medallion then
      // versions them by a hidden _date_added field, stripped when served.
      let version = (object['modified'] ?? object['created']) as string | undefined;
      if (version === undefined) {
        version = dateAdded;
        object['_date_added'] = dateAdded;
      }
      const key = `${id}@${version}`;
      // The same identity object appears in two example bundles.
      if (seen.has(key)) return;
      seen.add(key);
      objects.push(object);
      manifest.push({ id, date_added: dateAdded, version, media_type: MEDIA_STIX });
      seeded.push({ id, type, dateAdded, file });
    });
  });
  return { objects, manifest, seeded };
}

export async function startTaxiiServer(): Promise<TaxiiServer> {
  const executable = await installMedallion();
  const workDir = serverWorkDir('taxii');
  const dir = workDir.path;
  const [port] = await freeLoopbackPorts(1);
  if (port === undefined) throw new Error('no free loopback port');
  const url = `http://127.0.0.1:${port}`;
  const apiRoot = `${url}/${API_ROOT_NAME}/`;
  const collectionId = '5f3a9c1e-7b2d-4e8f-a6c0-1d9e3b7a5c2f';
  const unreadableCollectionId = 'c0ffee00-0000-4000-8000-000000000403';
  const user: TaxiiUser = {
    username: 'forestall',
    password: `pw-${randomBytes(12).toString('hex')}`,
  };
  const { objects, manifest, seeded } = seedObjects();

  const data = {
    '/discovery': {
      title: 'Forestall test TAXII server',
      description: 'medallion seeded with the STIX 2.1 examples',
      default: apiRoot,
      api_roots: [apiRoot],
    },
    [API_ROOT_NAME]: {
      information: {
        title: 'Forestall test API root',
        versions: [MEDIA_TAXII],
        max_content_length: 10 * 1024 * 1024,
      },
      status: [],
      collections: [
        {
          id: collectionId,
          title: 'STIX 2.1 examples',
          can_read: true,
          can_write: true,
          media_types: [MEDIA_STIX],
          objects,
          manifest,
        },
        {
          id: unreadableCollectionId,
          title: 'Write-only drop box',
          can_read: false,
          can_write: true,
          media_types: [MEDIA_STIX],
          objects: [],
          manifest: [],
        },
      ],
    },
  };
  const dataPath = join(dir, 'data.json');
  const configPath = join(dir, 'config.json');
  writeFileSync(dataPath, JSON.stringify(data, null, 2));
  writeFileSync(
    configPath,
    JSON.stringify(
      {
        backend: {
          module: 'medallion.backends.memory_backend',
          module_class: 'MemoryBackend',
          filename: dataPath,
        },
        users: { [user.username]: user.password },
        taxii: { max_page_size: MAX_PAGE_SIZE },
      },
      null,
      2,
    ),
  );

  const medallion = ManagedProcess.spawn({
    name: 'medallion',
    binary: executable,
    args: ['--host', '127.0.0.1', '--port', String(port), '--log-level', 'INFO', configPath],
    dir,
  });
  const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  try {
    await medallion.waitUntilReady({
      description: `GET ${url}/taxii2/ == 200`,
      timeoutMs: 30_000,
      intervalMs: 200,
      check: async () => {
        const { status, body } = await call('GET', `${url}/taxii2/`, {
          authorization: basic,
          accept: MEDIA_TAXII,
        });
        return { ready: status === 200, detail: `HTTP ${status}: ${body.slice(0, 200)}` };
      },
    });
  } catch (err) {
    await workDir.release(medallion);
    throw err;
  }

  return {
    url,
    discoveryUrl: `${url}/taxii2/`,
    apiRoot,
    collectionId,
    unreadableCollectionId,
    user,
    seeded: [...seeded].sort((a, b) => a.dateAdded.localeCompare(b.dateAdded)),
    executable,
    async addObjects(newObjects) {
      const body = JSON.stringify({ objects: newObjects });
      const { status, body: answer } = await call(
        'POST',
        `${apiRoot}collections/${collectionId}/objects/`,
        {
          authorization: basic,
          accept: MEDIA_TAXII,
          'content-type': MEDIA_TAXII,
        },
        body,
      );
      const parsed =
        status === 202 ? (JSON.parse(answer) as { success_count?: number }) : undefined;
      if (parsed?.success_count !== newObjects.length) {
        throw new Error(
          `medallion did not accept the objects: HTTP ${status} ${answer.slice(0, 500)}`,
        );
      }
    },
    logTail: (lines?: number) => medallion.logTail(lines),
    stop: () => workDir.release(medallion),
  };
}

function call(
  method: 'GET' | 'POST',
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers:
          body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
        timeout: 5_000,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}
