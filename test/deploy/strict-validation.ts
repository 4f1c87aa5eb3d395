/**
 * Schema validation of Kubernetes manifests that also fails on fields the schema does not
 * declare: what `kubectl apply --validate=strict` does and the schemas alone do not.
 * Kubernetes' OpenAPI schemas (and so kubernetes-models' validators, and the CRDs of KEDA,
 * Argo Rollouts, prometheus-operator and KServe) set no `additionalProperties: false`, so
 * `replcas: 2` validates; the API server would drop it, or reject it with strict field
 * validation.
 *
 * How: the validator itself says which fields it knows. The manifest is handed to it
 * behind Proxies that record, for each object, the property names the validator reads
 * (ajv's code reads every property its schema declares, present or not) and whether it
 * enumerated the object's keys (it does so for maps: `additionalProperties` with a schema,
 * `labels`, `resources.limits`). After a successful validation, a key of an object whose
 * declared names were read, that is not among them and that was not enumerated, is a
 * field the schema does not declare. An object the validator neither read nor enumerated
 * is free-form (`type: object` alone, `x-kubernetes-preserve-unknown-fields`): all its
 * keys pass. One limit: ajv skips a declared property whose schema validates nothing (no
 * type, no keyword), so such a field, if used, is reported as undeclared: a false alarm,
 * never a miss.
 */
import Ajv, { type ValidateFunction } from 'ajv';

/** What validating one document found: schema errors, then fields the schema does not declare (JSON-pointer-like paths). */
export interface StrictResult {
  readonly errors: readonly string[];
  readonly undeclared: readonly string[];
}

interface Reads {
  readonly names: Set<string>;
  enumerated: boolean;
}

/**
 * Runs `validate` (which returns the schema errors it found) on a recording view of
 * `data`; when there are none, lists the fields of `data` the schema does not declare.
 */
export function validateStrict(data: unknown, validate: (view: unknown) => readonly string[]): StrictResult {
  const reads = new WeakMap<object, Reads>();
  const views = new WeakMap<object, object>();
  const view = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const known = views.get(value);
    if (known !== undefined) return known;
    const record: Reads = { names: new Set(), enumerated: false };
    reads.set(value, record);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        if (typeof key === 'string') record.names.add(key);
        const got: unknown = Reflect.get(target, key, receiver);
        return Object.prototype.hasOwnProperty.call(target, key) ? view(got) : got;
      },
      has(target, key) {
        if (typeof key === 'string') record.names.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    views.set(value, proxy);
    return proxy;
  };
  const errors = validate(view(data));
  const undeclared: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, `${path}/${i}`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = reads.get(node);
    if (record === undefined) return;
    const strict = !record.enumerated && record.names.size > 0;
    for (const key of Object.keys(node)) {
      if (strict && !record.names.has(key)) undeclared.push(`${path}/${key}`);
      else walk((node as Record<string, unknown>)[key], `${path}/${key}`);
    }
  };
  if (errors.length === 0) walk(data, '');
  return { errors, undeclared };
}

/** A kubernetes-models class: its prototype's validate() validates `this` (and throws a ValidationError). */
export interface ModelClass {
  readonly prototype: { validate(): void };
}

/**
 * kubernetes-models' validator for `Model` as a {@link validateStrict} callback. The view
 * is given a prototype chain ending in the model's prototype, so that the model's own
 * validate() (which reads its schema id, or its compiled function, from there) runs on it.
 */
export function modelValidator(Model: ModelClass): (view: unknown) => readonly string[] {
  return (view) => {
    const self = new Proxy(view as object, {
      get: (target, key, receiver) => (Reflect.has(target, key) ? Reflect.get(target, key, receiver) : Reflect.get(Model.prototype, key)),
    });
    try {
      Model.prototype.validate.call(self);
      return [];
    } catch (err) {
      return [err instanceof Error ? err.message : String(err)];
    }
  };
}

/** The `x-kubernetes-*` extensions CRD schemas carry: known to ajv as annotations (they validate nothing here). */
const KUBERNETES_KEYWORDS = [
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-validations',
];

/**
 * ajv for CRDs' openAPIV3Schemas: strict about the schema itself (an unknown keyword is an
 * error) but not about mixed types (Kubernetes' int-or-string puts `pattern` beside
 * `anyOf: [integer, string]`). Formats (int32, int64, date-time) are not checked, as the
 * API server does not check most of them either. `optimize: false`: KServe's
 * InferenceService schema (2 MB) compiles in about a second instead of three.
 */
export function crdAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, validateFormats: false, code: { optimize: false } });
  for (const keyword of KUBERNETES_KEYWORDS) ajv.addKeyword(keyword);
  return ajv;
}

/** An ajv-compiled schema as a {@link validateStrict} callback. */
export function ajvValidator(validate: ValidateFunction): (view: unknown) => readonly string[] {
  return (view) => (validate(view) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params && 'allowedValues' in e.params ? ` (${JSON.stringify(e.params.allowedValues)})` : ''}`));
}
