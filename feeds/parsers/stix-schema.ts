/**
 * Validates STIX 2.1 objects against the official OASIS JSON Schemas
 * (github.com/oasis-open/cti-stix2-json-schemas), loaded at run time from a directory.
 *
 * - The schemas are read once per directory and each object type's validator is
 *   compiled on first use, then cached for the life of the process: a feed that syncs
 *   every minute pays for compilation once.
 * - Each object is validated against the schema of its own type (sdos/indicator.json
 *   for an indicator), not against bundle.json's oneOf over every type. That gives
 *   errors that name the failing property, and it checks the 2.1 types bundle.json does
 *   not list (location, note, opinion, grouping, incident).
 * - Objects of types the specification does not define (x-mitre-tactic, ...) are checked
 *   against the common core they must still satisfy: core.json when they carry
 *   `created` (a custom SDO or SRO), cyber-observable-core.json otherwise. bundle.json
 *   asks for exactly one of the two, which every custom SDO fails, since an SDO also
 *   satisfies the looser observable core; following it would refuse all of MITRE
 *   ATT&CK's own STIX content.
 * - ajv runs with `strict: false` and `unicodeRegExp: false` because the official
 *   schemas are not written for ajv's strict mode (`pattern` without `type`) and use the
 *   escape "\-", which the u flag rejects. The `idn-hostname` format, which ajv-formats
 *   lacks, is checked by converting to an A-label with the WHATWG URL rules.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { domainToASCII } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { packageRoot } from '../package-root.js';
import addFormatsModule from 'ajv-formats';

// Both packages are CommonJS with `exports.default`; under NodeNext the import is the module object.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

/** The folders of the official schema tree whose files each define one object type. */
const TYPE_FOLDERS = ['sdos', 'sros', 'observables'];
/** Object types whose schema lives in common/. */
const COMMON_TYPES = ['marking-definition', 'language-content', 'extension-definition'];

export interface StixValidator {
  /** The directory the schemas were loaded from. */
  readonly schemaDir: string;
  /** Undefined when valid, else a one-line description of the first violation. */
  validate(object: Record<string, unknown>): string | undefined;
}

/**
 * The default schema directory: feeds/stix-schemas in the package, which ships the
 * official schemas. Found by walking up from this module (it runs from feeds/parsers
 * in tests and from dist/feeds/parsers when built) to the package root.
 */
export function defaultStixSchemaDir(): string {
  defaultDir ??= findDefaultDir();
  return defaultDir;
}

let defaultDir: string | undefined;

function findDefaultDir(): string {
  return join(packageRoot(), 'feeds', 'stix-schemas');
}

function isIdnHostname(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const ascii = domainToASCII(name);
  if (ascii === '' || ascii.length > 253) return false;
  // Underscores are not valid in host names but are common in real DNS names (_dmarc,
  // service labels) that intelligence reports; refusing them would refuse the bundle.
  return ascii
    .split('.')
    .every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label));
}

/** One line naming where an object breaks its schema and how. */
export function describeSchemaError(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'it does not match the schema';
  const where = e.instancePath === '' ? 'the object' : e.instancePath;
  const extra =
    e.keyword === 'additionalProperties'
      ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
      : e.keyword === 'enum'
        ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
        : '';
  return `${where} ${e.message ?? 'is invalid'}${extra}`;
}

async function load(schemaDir: string): Promise<StixValidator> {
  const ajv = new Ajv2020({ strict: false, unicodeRegExp: false, allErrors: false, logger: false });
  addFormats(ajv);
  ajv.addFormat('idn-hostname', isIdnHostname);

  const idByType = new Map<string, string>();
  let coreId: string | undefined;
  let observableCoreId: string | undefined;
  for (const folder of [...TYPE_FOLDERS, 'common']) {
    const dir = join(schemaDir, folder);
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
      const schema = JSON.parse(await readFile(join(dir, file), 'utf8')) as { $id?: string };
      if (typeof schema.$id !== 'string') throw new Error(`${join(dir, file)} has no $id`);
      ajv.addSchema(schema);
      const stem = basename(file, '.json');
      if (TYPE_FOLDERS.includes(folder) || COMMON_TYPES.includes(stem))
        idByType.set(stem, schema.$id);
      if (folder === 'common' && stem === 'core') coreId = schema.$id;
      if (folder === 'common' && stem === 'cyber-observable-core') observableCoreId = schema.$id;
    }
  }
  if (!coreId || !observableCoreId || !idByType.has('indicator')) {
    throw new Error(
      `${schemaDir} does not hold the STIX 2.1 schema tree (common/core.json, common/cyber-observable-core.json, sdos/indicator.json)`,
    );
  }
  const core = coreId;
  const observableCore = observableCoreId;

  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (id: string): ValidateFunction => {
    let v = compiled.get(id);
    if (!v) {
      v = ajv.getSchema(id);
      if (!v) throw new Error(`schema ${id} did not compile`);
      compiled.set(id, v);
    }
    return v;
  };

  return {
    schemaDir,
    validate(object) {
      const type = typeof object.type === 'string' ? object.type : undefined;
      const id = (type && idByType.get(type)) ?? ('created' in object ? core : observableCore);
      const v = validatorFor(id);
      return v(object) ? undefined : describeSchemaError(v.errors);
    },
  };
}

const cache = new Map<string, Promise<StixValidator>>();

/** The validator for a schema directory, loaded and cached on first use. */
export function stixValidator(schemaDir: string = defaultStixSchemaDir()): Promise<StixValidator> {
  const key = resolve(schemaDir);
  let pending = cache.get(key);
  if (!pending) {
    pending = load(key).catch((err: unknown) => {
      // Do not cache a failure: the directory may be mounted by the next sync.
      cache.delete(key);
      throw new Error(
        `stix: cannot load the STIX 2.1 schemas from ${key}: ${err instanceof Error ? err.message : String(err)}`,
      );
    });
    cache.set(key, pending);
  }
  return pending;
}
