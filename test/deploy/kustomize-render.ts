/**
 * The part of kustomize that deploy/kubernetes/ uses, so that the tests can check what
 * `kubectl apply -k` would apply without kustomize on the machine: `resources` (files, and
 * folders holding a kustomization.yaml), `namespace`, and `patches` given inline as JSON
 * patches (RFC 6902: add, replace, remove) with a `target` of kind and name. A
 * kustomization with any other field fails here, rather than being rendered wrong: extend
 * this (and compare with `kubectl kustomize`) before using one.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';

/** A Kubernetes object as parsed from YAML. */
export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** A rendered resource and the file it came from. */
export interface Rendered {
  readonly resource: Resource;
  readonly file: string;
}

/** The fields of a Kustomization this renderer implements. */
export const KUSTOMIZATION_FIELDS: readonly string[] = ['apiVersion', 'kind', 'namespace', 'resources', 'patches'];

/** Kinds without a namespace (the namespace transformer leaves them alone). */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'ClusterServingRuntime', 'PersistentVolume', 'StorageClass']);

interface Patch {
  readonly target: { readonly kind: string; readonly name: string };
  readonly patch: string;
}

interface Kustomization {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly resources?: readonly string[];
  readonly patches?: readonly Patch[];
}

/**
 * Every document of a YAML file, parsed strictly (duplicate keys and anything YAML warns
 * about fail) and as YAML 1.1, as kubectl reads manifests (sigs.k8s.io/yaml): an unquoted
 * `on`, `off`, `yes` or `no` is a boolean there, so it is one here too.
 */
export function parseDocuments(file: string): unknown[] {
  const docs = YAML.parseAllDocuments(readFileSync(file, 'utf8'), { version: '1.1', uniqueKeys: true, strict: true, prettyErrors: true });
  return docs.flatMap((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file}, document ${i + 1}: ${problems.map((p) => p.message).join('; ')}`);
    const value: unknown = doc.toJS();
    return value === null ? [] : [value];
  });
}

/** The kustomization file of folder `dir`. */
export function kustomizationFile(dir: string): string {
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) if (existsSync(join(dir, name))) return join(dir, name);
  throw new Error(`${dir} has no kustomization.yaml`);
}

/** Reads a kustomization, failing on any field this renderer does not implement. */
export function readKustomization(dir: string): Kustomization {
  const file = kustomizationFile(dir);
  const [doc, ...more] = parseDocuments(file);
  if (more.length > 0) throw new Error(`${file}: expected one Kustomization document`);
  return validateKustomization(doc, file);
}

/** `doc` as a Kustomization of the fields this renderer implements; throws on any other (`file` names it in the message). */
export function validateKustomization(doc: unknown, file: string): Kustomization {
  if (doc === null || typeof doc !== 'object') throw new Error(`${file}: expected a Kustomization`);
  const k = doc as Kustomization & Record<string, unknown>;
  const unknown = Object.keys(k).filter((f) => !KUSTOMIZATION_FIELDS.includes(f));
  if (unknown.length > 0) throw new Error(`${file}: ${unknown.join(', ')}: not a field this test's renderer implements (${KUSTOMIZATION_FIELDS.join(', ')}); a misspelling, or extend test/deploy/kustomize-render.ts`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization') throw new Error(`${file}: apiVersion/kind must be kustomize.config.k8s.io/v1beta1 Kustomization`);
  if (k.namespace !== undefined && typeof k.namespace !== 'string') throw new Error(`${file}: namespace must be a string`);
  if (k.resources !== undefined && !(Array.isArray(k.resources) && k.resources.every((r) => typeof r === 'string'))) throw new Error(`${file}: resources must be a list of paths`);
  for (const p of k.patches ?? []) {
    const keys = Object.keys(p).sort().join(',');
    const targetKeys = Object.keys(p.target ?? {}).sort().join(',');
    if (keys !== 'patch,target' || targetKeys !== 'kind,name' || typeof p.patch !== 'string') throw new Error(`${file}: a patch must be { target: { kind, name }, patch: <JSON patch operations> }, got ${JSON.stringify(p)}`);
  }
  return k;
}

/** Renders the kustomization in `dir`: its resources in order, namespaced and patched. */
export function render(dir: string): Rendered[] {
  const k = readKustomization(dir);
  const out: Rendered[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (!existsSync(path)) throw new Error(`${kustomizationFile(dir)}: resource ${entry} does not exist`);
    if (statSync(path).isDirectory()) out.push(...render(path));
    else for (const doc of parseDocuments(path)) out.push({ resource: doc as Resource, file: path });
  }
  for (const p of k.patches ?? []) {
    const matches = out.filter((r) => r.resource.kind === p.target.kind && r.resource.metadata?.name === p.target.name);
    if (matches.length !== 1) throw new Error(`${kustomizationFile(dir)}: patch target ${p.target.kind}/${p.target.name} matches ${matches.length} resources`);
    const ops = YAML.parse(p.patch) as unknown;
    if (!Array.isArray(ops)) throw new Error(`${kustomizationFile(dir)}: a patch must be a list of JSON patch operations`);
    const i = out.indexOf(matches[0]);
    out[i] = { ...matches[0], resource: applyJsonPatch(matches[0].resource, ops as JsonPatchOperation[]) };
  }
  if (k.namespace !== undefined) {
    for (const r of out) if (!CLUSTER_SCOPED.has(r.resource.kind)) r.resource.metadata = { ...r.resource.metadata, namespace: k.namespace };
  }
  return out;
}

/** The kustomization folders reachable from `dir` (itself included), and the files they list. */
export function kustomizationTree(dir: string): { folders: string[]; files: string[] } {
  const folders = [resolve(dir)];
  const files = [kustomizationFile(dir)];
  for (const entry of readKustomization(dir).resources ?? []) {
    const path = resolve(dir, entry);
    if (existsSync(path) && statSync(path).isDirectory()) {
      const sub = kustomizationTree(path);
      folders.push(...sub.folders);
      files.push(...sub.files);
    } else files.push(path);
  }
  return { folders: [...new Set(folders)], files: [...new Set(files)] };
}

/** One RFC 6902 operation (the three kustomize users write most). */
export interface JsonPatchOperation {
  readonly op: 'add' | 'replace' | 'remove';
  readonly path: string;
  readonly value?: unknown;
}

/** `doc` with `ops` applied (a copy); throws on a path that does not resolve, as kustomize does. */
export function applyJsonPatch<T>(doc: T, ops: readonly JsonPatchOperation[]): T {
  const copy = structuredClone(doc) as unknown;
  for (const op of ops) {
    if (!['add', 'replace', 'remove'].includes(op.op)) throw new Error(`JSON patch: op ${JSON.stringify(op.op)} is not implemented here`);
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (op.path[0] !== '/' || parts.length === 0) throw new Error(`JSON patch: bad path ${op.path}`);
    let parent = copy as Record<string, unknown> | unknown[];
    for (const part of parts.slice(0, -1)) {
      const next = Array.isArray(parent) ? parent[Number(part)] : parent[part];
      if (next === null || typeof next !== 'object') throw new Error(`JSON patch: ${op.path} does not resolve`);
      parent = next as Record<string, unknown> | unknown[];
    }
    const last = parts[parts.length - 1];
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!Number.isInteger(index) || index < 0 || index > parent.length || (op.op !== 'add' && index === parent.length)) throw new Error(`JSON patch: ${op.path} does not resolve`);
      if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
      else if (op.op === 'replace') parent[index] = structuredClone(op.value);
      else parent.splice(index, 1);
    } else {
      if (op.op !== 'add' && !(last in parent)) throw new Error(`JSON patch: ${op.path} does not exist (${op.op})`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = structuredClone(op.value);
    }
  }
  return copy as T;
}
