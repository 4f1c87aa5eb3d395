/**
 * Where a model's requests go: a pinned default, labels, routes by a request key (A/B by
 * user group), a weighted split between versions (canary, A/B) that a key can make
 * sticky, and a shadow version that gets a copy of a share of them. The repository holds
 * this per model and keeps the versions it names loaded; the lifecycle sets it.
 */
import { ProtocolError, invalid } from '../protocol/types';

/** One version's share of a split. */
export interface TrafficSplit {
  readonly version: number;
  /** Its weight: shares are weight / the weights' sum (`90` and `10` make 90% and 10%). */
  readonly weight: number;
}

/** Requests whose `key` has `value` go to `version`. */
export interface KeyRoute {
  /** A header name (lowercase; gRPC metadata alike) or a request parameter's name. */
  readonly key: string;
  readonly value: string;
  readonly version: number;
}

/** A version that also gets a share of the requests the split or default answers; its answers are compared, not sent. */
export interface ShadowRoute {
  readonly version: number;
  /** From 0 to 1. */
  readonly share: number;
}

/** Where a model's requests go when they name no version, or name a label. */
export interface VersionRouting {
  /** The version requests that name none go to. Absent: the highest ready version. */
  readonly default?: number;
  /** Labels and the versions they point at (`{ stable: 2, canary: 3 }`). */
  readonly labels: Readonly<Record<string, number>>;
  /** Before the split: requests whose key has a value go to its version (first match wins). */
  readonly routes?: readonly KeyRoute[];
  /** Requests that name no version and match no route are split between these (instead of going to the default). */
  readonly split?: readonly TrafficSplit[];
  /**
   * The key (a header or request parameter) whose value picks the split's version: the
   * same value always gets the same version while the weights stay. Absent, or absent
   * from a request: a random pick.
   */
  readonly stickyKey?: string;
  readonly shadow?: ShadowRoute;
}

/** How a request was routed, as metrics label it. */
export type RouteKind = 'version' | 'label' | 'route' | 'split' | 'default';

/** Every {@link RouteKind}, for metrics that set their series up front. */
export const ROUTE_KINDS: readonly RouteKind[] = Object.freeze(['version', 'label', 'route', 'split', 'default'] as const);

/** A label's form: letters, digits, `_`, `-`, `.`, not all digits (those are versions). */
const LABEL = /^[A-Za-z0-9_.-]{1,64}$/;
/** A key's form: a header name's characters, lowercase. */
const KEY = /^[a-z0-9_.-]{1,64}$/;

/** Whether `key` can be a routing key (a header or request parameter's name, lowercase). */
export function isRoutingKey(key: string): boolean {
  return KEY.test(key);
}

/** Checks a label's form; throws INVALID_ARGUMENT for one that cannot be a label. */
export function checkLabel(label: string): void {
  if (!LABEL.test(label) || /^[0-9]+$/.test(label)) {
    throw new ProtocolError(`${JSON.stringify(label)} is not a version label: use 1 to 64 letters, digits, '_', '-' or '.', not all digits`, 'INVALID_ARGUMENT');
  }
}

/** Every version `routing` names. */
export function routedVersions(routing: VersionRouting): number[] {
  return [
    ...(routing.default === undefined ? [] : [routing.default]),
    ...Object.values(routing.labels),
    ...(routing.routes ?? []).map((r) => r.version),
    ...(routing.split ?? []).map((s) => s.version),
    ...(routing.shadow === undefined ? [] : [routing.shadow.version]),
  ];
}

/** Checks `routing`'s form (not whether its versions are ready); throws INVALID_ARGUMENT naming what is wrong. */
export function checkRouting(routing: VersionRouting): void {
  for (const label of Object.keys(routing.labels)) checkLabel(label);
  for (const v of routedVersions(routing)) {
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(`${JSON.stringify(v)} is not a version number`);
  }
  if (routing.split !== undefined) {
    if (routing.split.length === 0) throw invalid('a split needs at least one version');
    if (new Set(routing.split.map((s) => s.version)).size !== routing.split.length) throw invalid('a split names each version once');
    for (const s of routing.split) {
      if (typeof s.weight !== 'number' || !Number.isFinite(s.weight) || s.weight < 0) throw invalid(`version ${s.version}'s weight must be a number of 0 or more, got ${JSON.stringify(s.weight)}`);
    }
    if (routing.split.every((s) => s.weight === 0)) throw invalid("a split's weights cannot all be 0");
  }
  for (const key of [routing.stickyKey, ...(routing.routes ?? []).map((r) => r.key)]) {
    if (key !== undefined && !isRoutingKey(key)) throw invalid(`${JSON.stringify(key)} is not a routing key: a header or parameter name, lowercase (letters, digits, '_', '-', '.')`);
  }
  for (const r of routing.routes ?? []) if (typeof r.value !== 'string') throw invalid(`a route's value must be a string, got ${JSON.stringify(r.value)}`);
  const share = routing.shadow?.share;
  if (share !== undefined && !(typeof share === 'number' && share >= 0 && share <= 1)) throw invalid(`the shadow's share must be from 0 to 1, got ${JSON.stringify(share)}`);
}

/** `routing` less what names a version that `ready` says is not ready (a split keeps its other versions). */
export function pruneRouting(routing: VersionRouting, ready: (version: number) => boolean): VersionRouting {
  const split = routing.split?.filter((s) => ready(s.version));
  return {
    ...(routing.default !== undefined && ready(routing.default) && { default: routing.default }),
    labels: Object.fromEntries(Object.entries(routing.labels).filter(([, v]) => ready(v))),
    ...(routing.routes !== undefined && { routes: routing.routes.filter((r) => ready(r.version)) }),
    ...(split !== undefined && split.some((s) => s.weight > 0) && { split }),
    ...(routing.stickyKey !== undefined && { stickyKey: routing.stickyKey }),
    ...(routing.shadow !== undefined && ready(routing.shadow.version) && { shadow: routing.shadow }),
  };
}

/**
 * The version a request that names none goes to by `routing`'s routes and split, and
 * which of them picked it; undefined when neither applies (the default then). `key`
 * reads a request key's value.
 */
export function pickVersion(routing: VersionRouting, key: (name: string) => string | undefined, random: () => number = Math.random): { version: number; kind: RouteKind } | undefined {
  for (const r of routing.routes ?? []) if (key(r.key) === r.value) return { version: r.version, kind: 'route' };
  const split = routing.split;
  if (split === undefined) return undefined;
  const total = split.reduce((sum, s) => sum + s.weight, 0);
  const sticky = routing.stickyKey === undefined ? undefined : key(routing.stickyKey);
  // A point in [0, total): the sticky value's hash places a caller at the same point each time.
  let point = (sticky === undefined ? random() : fnv1a(sticky) / 2 ** 32) * total;
  for (const s of split) {
    if (point < s.weight) return { version: s.version, kind: 'split' };
    point -= s.weight;
  }
  // Rounding left the point at the end: the last version with a share.
  return { version: (split.findLast((s) => s.weight > 0) ?? split[0]).version, kind: 'split' };
}

/** FNV-1a over a string's UTF-16 code units: a fast, well-spread 32-bit hash (not for secrets). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
