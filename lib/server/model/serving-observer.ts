/**
 * What a served model version tells an observer (the server's metrics) as it serves: each
 * request taken and answered, each request's wait in the queue, each batch run. The
 * repository hands each version its observer once it has loaded, so warm-up runs are not
 * reported. Calls come on the request path: an observer must be cheap and must not throw.
 */
import { OrtError } from '../../core/errors';
import type { ModelParameter } from '../config/model-config';
import { type InferRequest, type InferResponse, ProtocolError } from '../protocol/types';
import type { RouteKind } from '../repository/version-routing';
import type { ServingPlan } from './serving-plan';

/** Why a request failed, as the metrics count it. */
export type FailureReason = 'invalid' | 'queue_full' | 'timeout' | 'unavailable' | 'internal';

/** Every {@link FailureReason}, for observers that set their series up front. */
export const FAILURE_REASONS: readonly FailureReason[] = Object.freeze(['invalid', 'queue_full', 'timeout', 'unavailable', 'internal'] as const);

/** Runs of one version's instances, as InstanceRunner reports them. */
export interface BatchObserver {
  /** A batch of `rows` rows ran in ONNX Runtime for `seconds` (successful runs only, as Triton's execution count). */
  onBatch(rows: number, seconds: number): void;
}

/** What one model version reports as it serves. */
export interface VersionObserver extends BatchObserver {
  /** A request was taken (it is pending until {@link VersionObserver.onRequestEnd}). */
  onRequestStart(): void;
  /**
   * A request was answered: `failure` undefined for a success. `seconds` runs from the
   * version taking the request (decoded) to its answer being ready (not yet encoded).
   */
  onRequestEnd(failure: FailureReason | undefined, seconds: number): void;
  /**
   * A request's batch (or, without dynamic batching, its own run) started, `seconds` after
   * the request entered the scheduler's queue. Requests refused before (invalid, queue
   * full) or dropped in the queue (timeout) never get here.
   */
  onQueued(seconds: number): void;
  /**
   * A request was answered with success: its decoded inputs and the outputs it gets, in
   * the shapes the client sees (the batch dimension first when the model batches). For
   * observers of the data (drift, payload logs): they may keep references to the tensors
   * and read them later, never write them. `route`: how the version was picked (as
   * {@link ServingObserver.routed} is told), `shadow` for a copy of another version's
   * request, undefined when the caller named none. Absent: the observer is not told.
   */
  onInference?(request: InferRequest, response: InferResponse, route: RouteKind | 'shadow' | undefined): void;
}

/** A version as it starts serving, for observers that look at its data or its files. */
export interface ServingVersion {
  /** The version's folder (`REPO/MODEL/VERSION`). */
  readonly folder: string;
  /** How it serves: its inputs and outputs as clients see them, whether it batches. */
  readonly plan: ServingPlan;
  /** The configuration's `parameters`. */
  readonly parameters: Readonly<Record<string, ModelParameter>>;
}

/** Told of the repository's versions as they start and stop serving. */
export interface ServingObserver {
  /**
   * Version `version` of `model` has loaded (in `loadSeconds`, warm-up included) and
   * serves from now on; what it serves is reported to the observer returned. A reload of
   * the same version calls this again before the old copy is retired.
   */
  versionServing(model: string, version: number, loadSeconds: number, served: ServingVersion): VersionObserver;
  /** A copy of the version that {@link ServingObserver.versionServing} announced has answered its last request and released its sessions. */
  versionRetired(model: string, version: number): void;
  /** Version `version` of `model` failed to load (it serves nothing new; a copy loaded before, if any, goes on serving). */
  versionFailed?(model: string, version: number, reason: string): void;
  /** A request went to `version` of `model` by `route` (a version it named, a label, a key route, the split, the default). */
  routed?(model: string, version: number, route: RouteKind): void;
  /**
   * A copy of a request went to shadow version `version` of `model`: its answer agreed
   * with the serving version's or not, or it failed, taking `seconds`; or it was skipped
   * (too many shadow requests in flight already).
   */
  shadowed?(model: string, version: number, outcome: ShadowOutcome, seconds: number): void;
}

/** What became of a shadow request. */
export type ShadowOutcome = 'agree' | 'disagree' | 'failed' | 'skipped';

/** Every {@link ShadowOutcome}, for observers that set their series up front. */
export const SHADOW_OUTCOMES: readonly ShadowOutcome[] = Object.freeze(['agree', 'disagree', 'failed', 'skipped'] as const);

/**
 * Why `err`, thrown while a version served a request, failed it: the one reading of the
 * runtime's codes, which served-model.ts's `protocolErrorOf` turns into the client's
 * error (a full queue, a timeout and a released session are all UNAVAILABLE to a client).
 */
export function failureReason(err: unknown): FailureReason {
  if (err instanceof ProtocolError) {
    if (err.status === 'INVALID_ARGUMENT') return 'invalid';
    return err.status === 'UNAVAILABLE' ? 'unavailable' : 'internal';
  }
  if (err instanceof OrtError) {
    switch (err.code) {
      case 'INVALID_INPUT_NAME':
      case 'INVALID_OUTPUT_NAME':
      case 'INVALID_DTYPE':
      case 'INVALID_SHAPE':
      case 'INVALID_TENSOR':
      case 'MISSING_INPUT':
        return 'invalid';
      case 'QUEUE_FULL':
        return 'queue_full';
      case 'TIMEOUT':
        return 'timeout';
      case 'SESSION_RELEASED':
        return 'unavailable';
    }
  }
  return 'internal';
}
