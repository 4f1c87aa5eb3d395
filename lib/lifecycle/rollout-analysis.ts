/**
 * The judgement of one analysis window: does the candidate hold its thresholds? Three
 * outcomes, not two: a window with too few requests to say is inconclusive, and an
 * inconclusive window neither promotes nor rolls back (Argo Rollouts and Flagger fail
 * or stall a rollout on an empty window: argoproj/argo-rollouts#1466, fluxcd/flagger#1035).
 */
import type { RolloutSpec } from './rollout-spec';
import type { WindowFigures } from './version-window';

/** One threshold's check over a window. */
export interface WindowCheck {
  /** `requests`, `success_rate`, `p99_ms`, `p99_ratio`, `shadow_agreement`. */
  readonly check: string;
  /** The figure measured, absent when there was nothing to measure. */
  readonly value?: number;
  /** The bound it is held to (a lowest value for rates and counts, a highest for latencies). */
  readonly bound: number;
  /** Whether it held; absent when the window cannot tell (too few requests). */
  readonly passed?: boolean;
}

/** A window's outcome. */
export interface WindowVerdict {
  readonly outcome: 'pass' | 'fail' | 'inconclusive';
  readonly checks: readonly WindowCheck[];
  /** One line that says why, for the status and the log. */
  readonly reason: string;
}

/**
 * Judges a window at a step of `weight` percent: `candidate` and `baseline` are the two
 * versions' figures over the same window. Any failed check fails it; otherwise too few
 * requests (the candidate's, or the shadow copies compared when agreement is checked)
 * make it inconclusive.
 */
export function judgeWindow(spec: RolloutSpec, weight: number, candidate: WindowFigures, baseline: WindowFigures): WindowVerdict {
  const checks: WindowCheck[] = [];
  const enough = candidate.requests >= spec.minRequests;
  checks.push({ check: 'requests', value: candidate.requests, bound: spec.minRequests, passed: enough ? true : undefined });
  const held = (value: number | undefined, ok: (v: number) => boolean) => (value === undefined || !enough ? undefined : ok(value));
  checks.push({ check: 'success_rate', ...(candidate.successRate !== undefined && { value: candidate.successRate }), bound: spec.minSuccessRate, passed: held(candidate.successRate, (v) => v >= spec.minSuccessRate) });
  if (spec.maxP99Ms !== undefined) {
    const bound = spec.maxP99Ms;
    checks.push({ check: 'p99_ms', ...(candidate.p99Ms !== undefined && { value: candidate.p99Ms }), bound, passed: held(candidate.p99Ms, (v) => v <= bound) });
  }
  if (spec.maxP99Ratio !== undefined && baseline.requests >= spec.minRequests && candidate.p99Ms !== undefined && baseline.p99Ms !== undefined) {
    const bound = spec.maxP99Ratio;
    checks.push({ check: 'p99_ratio', value: candidate.p99Ms / baseline.p99Ms, bound, passed: held(candidate.p99Ms / baseline.p99Ms, (v) => v <= bound) });
  }
  // Agreement is checked while the baseline still answers (steps below 100%), over enough copies.
  if (spec.minShadowAgreement !== undefined && weight < 100) {
    const bound = spec.minShadowAgreement;
    const compared = candidate.shadowCompared >= spec.minRequests;
    checks.push({ check: 'shadow_agreement', ...(candidate.shadowAgreement !== undefined && { value: candidate.shadowAgreement }), bound, passed: compared && candidate.shadowAgreement !== undefined ? candidate.shadowAgreement >= bound : undefined });
    if (!compared) checks.push({ check: 'shadow_compared', value: candidate.shadowCompared, bound: spec.minRequests });
  }
  const failed = checks.filter((c) => c.passed === false);
  if (failed.length > 0) {
    return { outcome: 'fail', checks, reason: failed.map(describe).join('; ') };
  }
  const open = checks.filter((c) => c.passed === undefined);
  if (open.length > 0) {
    const counts = checks.filter((c) => c.check === 'requests' || c.check === 'shadow_compared').filter((c) => (c.value ?? 0) < c.bound);
    return { outcome: 'inconclusive', checks, reason: `not enough data: ${counts.map(describe).join('; ')}` };
  }
  return { outcome: 'pass', checks, reason: checks.map(describe).join('; ') };
}

function describe(c: WindowCheck): string {
  const value = c.value === undefined ? 'none' : Number.isInteger(c.value) ? String(c.value) : c.value.toPrecision(4);
  switch (c.check) {
    case 'requests':
      return `${value} requests (at least ${c.bound})`;
    case 'shadow_compared':
      return `${value} shadow copies compared (at least ${c.bound})`;
    case 'p99_ms':
      return `p99 ${value} ms (at most ${c.bound})`;
    case 'p99_ratio':
      return `p99 ${value}x the baseline's (at most ${c.bound}x)`;
    default:
      return `${c.check.replace('_', ' ')} ${value} (at least ${c.bound})`;
  }
}
