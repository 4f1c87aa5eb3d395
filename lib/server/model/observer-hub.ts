/**
 * One {@link ServingObserver} that tells several: the server's metrics from the start, and
 * parts above the server (the lifecycle's rollout analysis, say) that join later. The
 * repository knows one observer per version; this fans each call out, and tells an
 * observer that joins of the versions already serving, so that it sees their requests
 * from then on.
 */
import type { FailureReason, ServingObserver, ServingVersion, ShadowOutcome, VersionObserver } from './serving-observer';
import type { InferRequest, InferResponse } from '../protocol/types';
import type { RouteKind } from '../repository/version-routing';

/** One loaded copy of a version: what each observer returned for it. */
class VersionFanOut implements VersionObserver {
  readonly observers = new Map<ServingObserver, VersionObserver>();
  #list: VersionObserver[] = [];
  /** Those told of each inference's tensors: most observers are not, and the request path skips them. */
  #ofData: VersionObserver[] = [];

  constructor(
    readonly model: string,
    readonly version: number,
    readonly served: ServingVersion,
  ) {}

  set(observer: ServingObserver, versionObserver: VersionObserver | undefined): void {
    if (versionObserver === undefined) this.observers.delete(observer);
    else this.observers.set(observer, versionObserver);
    // An array for the request path: a loop over it costs less than a Map's iterator.
    this.#list = [...this.observers.values()];
    this.#ofData = this.#list.filter((o) => o.onInference !== undefined);
  }

  onRequestStart(): void {
    for (const o of this.#list) o.onRequestStart();
  }

  onRequestEnd(failure: FailureReason | undefined, seconds: number): void {
    for (const o of this.#list) o.onRequestEnd(failure, seconds);
  }

  onQueued(seconds: number): void {
    for (const o of this.#list) o.onQueued(seconds);
  }

  onBatch(rows: number, seconds: number): void {
    for (const o of this.#list) o.onBatch(rows, seconds);
  }

  onInference(request: InferRequest, response: InferResponse, route: RouteKind | 'shadow' | undefined): void {
    for (const o of this.#ofData) o.onInference?.(request, response, route);
  }
}

/** Fans the repository's reports out to every observer added. */
export class ObserverHub implements ServingObserver {
  readonly #observers: ServingObserver[] = [];
  /** The loaded copies of each version (`model\0version`), oldest first: a reload overlaps two. */
  readonly #serving = new Map<string, VersionFanOut[]>();

  constructor(...observers: readonly (ServingObserver | undefined)[]) {
    for (const o of observers) if (o !== undefined) this.#observers.push(o);
  }

  /**
   * Adds `observer`: it is told of the versions serving now (with a load time of 0) and of
   * everything from now on. Returns the function that removes it again.
   */
  add(observer: ServingObserver): () => void {
    this.#observers.push(observer);
    for (const copies of this.#serving.values()) for (const copy of copies) copy.set(observer, observer.versionServing(copy.model, copy.version, 0, copy.served));
    return () => {
      const at = this.#observers.indexOf(observer);
      if (at < 0) return;
      this.#observers.splice(at, 1);
      for (const copies of this.#serving.values()) for (const copy of copies) copy.set(observer, undefined);
    };
  }

  versionServing(model: string, version: number, loadSeconds: number, served: ServingVersion): VersionObserver {
    const copy = new VersionFanOut(model, version, served);
    for (const o of this.#observers) copy.set(o, o.versionServing(model, version, loadSeconds, served));
    const key = `${model}\0${version}`;
    const copies = this.#serving.get(key);
    if (copies === undefined) this.#serving.set(key, [copy]);
    else copies.push(copy);
    return copy;
  }

  versionRetired(model: string, version: number): void {
    const key = `${model}\0${version}`;
    const copies = this.#serving.get(key);
    // Copies retire in the order they were replaced: the oldest first.
    const retired = copies?.shift();
    if (copies?.length === 0) this.#serving.delete(key);
    for (const o of this.#observers) if (retired === undefined || retired.observers.has(o)) o.versionRetired(model, version);
  }

  versionFailed(model: string, version: number, reason: string): void {
    for (const o of this.#observers) o.versionFailed?.(model, version, reason);
  }

  routed(model: string, version: number, route: RouteKind): void {
    for (const o of this.#observers) o.routed?.(model, version, route);
  }

  shadowed(model: string, version: number, outcome: ShadowOutcome, seconds: number): void {
    for (const o of this.#observers) o.shadowed?.(model, version, outcome, seconds);
  }
}
