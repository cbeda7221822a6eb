/**
 * Building blocks shared by the three Forestall CRDs.
 *
 * These schemas are the single source of truth: crds/generate.ts turns them into the
 * CRD YAML (crds/generated/*.yaml, copied into the Helm chart), the TypeScript types
 * (crds/generated/types.ts) and the precompiled ajv validators. Every field carries a
 * description so that `kubectl explain` can show it, and every schema stays structural
 * (a type on every node, no additionalProperties beside properties) as the API server
 * requires for CRDs.
 */

/** A JSON Schema node as the Kubernetes structural-schema dialect accepts it. */
export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
  required?: string[];
  enum?: (string | number | boolean)[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  maxProperties?: number;
  nullable?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-int-or-string'?: boolean;
}

/** A CEL rule the API server evaluates on create and update (x-kubernetes-validations). */
export interface ValidationRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?:
    'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything the generator needs to know about one kind. */
export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: SchemaNode;
  status: SchemaNode;
  printerColumns: PrinterColumn[];
}

/** The Ready condition's status, and in wide output its reason: every kind shows both. */
export const readyColumns: PrinterColumn[] = [
  { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: ".status.conditions[?(@.type=='Ready')].reason",
    priority: 1,
  },
];

export const ageColumn: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
};

export const GROUP = 'forestall.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'forestall';

// Go duration syntax, as metav1.Duration accepts it ("90s", "1h30m").
const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$';

export function str(description: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'string', description, maxLength: 1024, ...extra };
}

/** A string that is one of `values`. */
export function enumStr(
  description: string,
  values: readonly string[],
  defaultValue?: string,
): SchemaNode {
  return {
    type: 'string',
    description,
    enum: [...values],
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  };
}

export function bool(description: string, defaultValue: boolean): SchemaNode {
  return { type: 'boolean', description, default: defaultValue };
}

export function int(description: string, extra: Partial<SchemaNode> = {}): SchemaNode {
  return { type: 'integer', description, ...extra };
}

export function duration(description: string, defaultValue?: string): SchemaNode {
  return {
    type: 'string',
    description: `${description} A Go duration such as "90s", "15m" or "24h".`,
    pattern: DURATION_PATTERN,
    maxLength: 64,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  };
}

/**
 * Fragments that stand in several places, each emitted once as a named TypeScript type
 * by crds/generate.ts (the CRD YAML keeps them inline, as the API server needs).
 */
const typeNames = new WeakMap<SchemaNode, { name: string; doc: string }>();

function named(name: string, doc: string, node: SchemaNode): SchemaNode {
  typeNames.set(node, { name, doc });
  return node;
}

/** The TypeScript type a shared fragment is emitted as, if it is one. */
export function typeNameOf(node: SchemaNode): { name: string; doc: string } | undefined {
  return typeNames.get(node);
}

export function time(description: string): SchemaNode {
  return { type: 'string', format: 'date-time', description };
}

export function obj(
  description: string,
  properties: Record<string, SchemaNode>,
  extra: Partial<SchemaNode> = {},
): SchemaNode {
  return { type: 'object', description, properties, ...extra };
}

export function list(
  description: string,
  items: SchemaNode,
  maxItems: number,
  extra: Partial<SchemaNode> = {},
): SchemaNode {
  return { type: 'array', description, items, maxItems, ...extra };
}

export function stringMap(description: string): SchemaNode {
  return {
    type: 'object',
    description,
    additionalProperties: { type: 'string', maxLength: 1024 },
    maxProperties: 64,
  };
}

/**
 * A map of counts, replaced whole on every status write. Atomic, so that server-side
 * apply of an empty map empties it, rather than removing our keys and leaving null.
 */
export function countMap(description: string): SchemaNode {
  return {
    type: 'object',
    description,
    additionalProperties: { type: 'integer', minimum: 0 },
    maxProperties: 32,
    'x-kubernetes-map-type': 'atomic',
  };
}

const secretFields = {
  name: str('Name of the Secret.', { maxLength: 253 }),
  namespace: str("Namespace of the Secret. Defaults to the controller's namespace.", {
    maxLength: 63,
  }),
};

/** A reference to a whole Secret, whose keys the consumer reads. */
export function secretRef(description: string): SchemaNode {
  return named(
    'SecretRef',
    'A reference to a whole Secret.',
    obj(description, { ...secretFields }, { required: ['name'] }),
  );
}

/** A reference to a key in a Secret. Secrets live in the controller's namespace unless one is named. */
export function secretKeyRef(description: string): SchemaNode {
  return named(
    'SecretKeyRef',
    'A reference to one key of a Secret.',
    obj(
      description,
      { ...secretFields, key: str('Key within the Secret.', { maxLength: 253 }) },
      { required: ['name'] },
    ),
  );
}

/** metav1.LabelSelector. */
export function labelSelector(description: string): SchemaNode {
  return named(
    'LabelSelector',
    'metav1.LabelSelector: labels and set-based requirements.',
    obj(
      description,
      {
        matchLabels: stringMap('Labels that must all match exactly.'),
        matchExpressions: list(
          'Set-based requirements; all must match.',
          obj(
            'One label requirement.',
            {
              key: str('The label key.', { maxLength: 317 }),
              operator: enumStr('How the key relates to the values.', [
                'In',
                'NotIn',
                'Exists',
                'DoesNotExist',
              ]),
              values: list(
                'Values for In and NotIn; empty for Exists and DoesNotExist.',
                str('A label value.', { maxLength: 63 }),
                64,
              ),
            },
            { required: ['key', 'operator'] },
          ),
          16,
        ),
      },
      { 'x-kubernetes-map-type': 'atomic' },
    ),
  );
}

/** A reference to any Kubernetes object. */
export function objectRef(description: string): SchemaNode {
  return named(
    'ObjectReference',
    'A reference to any Kubernetes object.',
    obj(
      description,
      {
        apiVersion: str('API version of the object.', { maxLength: 253 }),
        kind: str('Kind of the object.', { maxLength: 63 }),
        namespace: str('Namespace of the object; empty for cluster-scoped objects.', {
          maxLength: 63,
        }),
        name: str('Name of the object.', { maxLength: 253 }),
      },
      { required: ['kind', 'name'] },
    ),
  );
}

/** metav1.Condition, as `kubectl wait --for=condition=Ready` understands it. */
export const conditions: SchemaNode = list(
  "The latest observations of the object's state. Known types are listed per kind.",
  named(
    'Condition',
    'metav1.Condition: one aspect of the current state.',
    obj(
      'One aspect of the current state (metav1.Condition).',
      {
        type: str('Type of the condition, in CamelCase.', { maxLength: 316 }),
        status: enumStr('Status of the condition.', ['True', 'False', 'Unknown']),
        observedGeneration: int('The .metadata.generation the condition was set for.', {
          minimum: 0,
        }),
        lastTransitionTime: time('When the condition last changed status.'),
        reason: str('A CamelCase, machine-readable reason for the last transition.', {
          maxLength: 1024,
        }),
        message: str('A human-readable message about the transition.', { maxLength: 32768 }),
      },
      { required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'] },
    ),
  ),
  32,
  { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
);

export const observedGeneration = int('The .metadata.generation the controller last acted on.', {
  minimum: 0,
});
