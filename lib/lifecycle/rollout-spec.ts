/**
 * What a progressive rollout is asked to do: the candidate version, the steps of traffic
 * it gets, how long each analysis window is, and the thresholds it must hold. Read from
 * the HTTP API's JSON body (snake_case, as the other lifecycle bodies), from the CLI's
 * flags through that body, and from a model folder's `rollout.json`; checked whole before
 * anything changes.
 */
import { invalid } from '../server/protocol/types';
import { isRoutingKey } from '../server/repository/version-routing';

/** A progressive rollout's settings, defaults filled in. */
export interface RolloutSpec {
  /** The version rolled out. */
  readonly candidate: number;
  /** The version it replaces (the default when the rollout started). */
  readonly baseline: number;
  /** Percent of the traffic the candidate gets at each step, increasing; 0 (shadow only) may come first. */
  readonly steps: readonly number[];
  /** How long an analysis window lasts at least, in milliseconds. */
  readonly intervalMs: number;
  /** Requests the candidate must have answered in a window for it to count; fewer: inconclusive. */
  readonly minRequests: number;
  /** The candidate's lowest success rate in a window (failures: anything but a client's bad request). */
  readonly minSuccessRate: number;
  /** The candidate's highest p99 latency in a window, in milliseconds. */
  readonly maxP99Ms?: number;
  /** The candidate's highest p99 as a multiple of the baseline's in the same window (checked while the baseline has enough requests). */
  readonly maxP99Ratio?: number;
  /** A share of the baseline's requests copied to the candidate while it has less than all the traffic. */
  readonly shadowShare?: number;
  /** The lowest share of those copies whose answers agree with the baseline's. */
  readonly minShadowAgreement?: number;
  /** Failed windows that roll the rollout back. */
  readonly rollbackAfter: number;
  /** A header or parameter whose value keeps a caller on one version as the weights grow. */
  readonly stickyKey?: string;
}

/** The settings a rollout takes when it is not told otherwise. */
export const ROLLOUT_DEFAULTS = Object.freeze({
  steps: Object.freeze([10, 50, 100]),
  intervalMs: 60_000,
  minRequests: 20,
  minSuccessRate: 0.99,
  // Flagger's default request-duration check.
  maxP99Ms: 500,
  rollbackAfter: 1,
  shadowShare: 0.1,
});

/** The JSON fields of a rollout, beside `candidate` and `baseline`, as the API and `rollout.json` take them. */
export const ROLLOUT_FIELDS = [
  'steps',
  'interval_s',
  'min_requests',
  'min_success_rate',
  'max_p99_ms',
  'max_p99_ratio',
  'shadow_share',
  'min_shadow_agreement',
  'rollback_after',
  'sticky_key',
] as const;

/** The settings part of a rollout (no versions), as `rollout.json` declares them for every new version. */
export type RolloutSettings = Omit<RolloutSpec, 'candidate' | 'baseline'>;

function numberIn(body: Record<string, unknown>, field: string, min: number, max: number, integer = false): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw invalid(`the rollout's "${field}" must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Reads a rollout's settings from JSON `body` (unknown fields refused; `also` names fields the caller reads). */
export function rolloutSettingsFromJson(body: Record<string, unknown>, also: readonly string[] = []): RolloutSettings {
  for (const field of Object.keys(body)) {
    if (!(ROLLOUT_FIELDS as readonly string[]).includes(field) && !also.includes(field)) {
      throw invalid(`unknown field "${field}" in the rollout; use ${[...also, ...ROLLOUT_FIELDS].join(', ')}`);
    }
  }
  let steps: readonly number[] = ROLLOUT_DEFAULTS.steps;
  if (body.steps !== undefined) {
    if (!Array.isArray(body.steps) || body.steps.length === 0 || body.steps.length > 100) throw invalid('the rollout\'s "steps" must be a list of 1 to 100 percentages');
    steps = body.steps.map((s: unknown, i) => {
      if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 100) throw invalid(`the rollout's steps[${i}] must be a percentage from 0 to 100, got ${JSON.stringify(s)}`);
      return s;
    });
  }
  for (let i = 1; i < steps.length; i++) if (steps[i] <= steps[i - 1]) throw invalid(`the rollout's steps must increase: ${steps[i - 1]} then ${steps[i]}`);
  const minShadowAgreement = numberIn(body, 'min_shadow_agreement', 0, 1);
  const shadowShare = numberIn(body, 'shadow_share', 0, 1) ?? (minShadowAgreement === undefined ? undefined : ROLLOUT_DEFAULTS.shadowShare);
  if (steps[0] === 0 && !(shadowShare !== undefined && shadowShare > 0)) throw invalid('a first step of 0% sends the candidate nothing: give it a shadow_share to be judged on');
  if (minShadowAgreement !== undefined && shadowShare === 0) throw invalid('"min_shadow_agreement" needs a shadow_share above 0');
  if (minShadowAgreement !== undefined && steps.every((s) => s === 100)) throw invalid('"min_shadow_agreement" needs a step below 100%, where the baseline still answers');
  const stickyKey = body.sticky_key;
  if (stickyKey !== undefined && (typeof stickyKey !== 'string' || !isRoutingKey(stickyKey.toLowerCase()))) {
    throw invalid(`the rollout's "sticky_key" must be a header or parameter name (letters, digits, '_', '-', '.'), got ${JSON.stringify(stickyKey)}`);
  }
  const intervalS = numberIn(body, 'interval_s', 0.05, 86_400);
  const maxP99Ms = body.max_p99_ms === null ? undefined : (numberIn(body, 'max_p99_ms', 0.001, 3_600_000) ?? ROLLOUT_DEFAULTS.maxP99Ms);
  const maxP99Ratio = numberIn(body, 'max_p99_ratio', 1, 1000);
  return {
    steps,
    intervalMs: intervalS === undefined ? ROLLOUT_DEFAULTS.intervalMs : Math.round(intervalS * 1000),
    minRequests: numberIn(body, 'min_requests', 1, 1_000_000, true) ?? ROLLOUT_DEFAULTS.minRequests,
    minSuccessRate: numberIn(body, 'min_success_rate', 0, 1) ?? ROLLOUT_DEFAULTS.minSuccessRate,
    ...(maxP99Ms !== undefined && { maxP99Ms }),
    ...(maxP99Ratio !== undefined && { maxP99Ratio }),
    ...(shadowShare !== undefined && shadowShare > 0 && { shadowShare }),
    ...(minShadowAgreement !== undefined && { minShadowAgreement }),
    rollbackAfter: numberIn(body, 'rollback_after', 1, 1000, true) ?? ROLLOUT_DEFAULTS.rollbackAfter,
    ...(typeof stickyKey === 'string' && { stickyKey: stickyKey.toLowerCase() }),
  };
}

/** `spec` as JSON, the way the API takes and shows it. */
export function rolloutSpecToJson(spec: RolloutSpec): Record<string, unknown> {
  return {
    candidate: spec.candidate,
    baseline: spec.baseline,
    steps: spec.steps,
    interval_s: spec.intervalMs / 1000,
    min_requests: spec.minRequests,
    min_success_rate: spec.minSuccessRate,
    max_p99_ms: spec.maxP99Ms ?? null,
    ...(spec.maxP99Ratio !== undefined && { max_p99_ratio: spec.maxP99Ratio }),
    ...(spec.shadowShare !== undefined && { shadow_share: spec.shadowShare }),
    ...(spec.minShadowAgreement !== undefined && { min_shadow_agreement: spec.minShadowAgreement }),
    rollback_after: spec.rollbackAfter,
    ...(spec.stickyKey !== undefined && { sticky_key: spec.stickyKey }),
  };
}
