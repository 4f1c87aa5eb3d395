/**
 * Recent predictions by request id, for ground truth that arrives later: bounded by count
 * and by weight (the oldest go first) and by age, whatever the flood of ids. A Map keeps
 * insertion order, so the oldest entry is always the first: eviction is O(1) a prediction.
 */

/** Options of a {@link PredictionStore}. */
export interface PredictionStoreOptions {
  /** Predictions kept at most (default 10000). */
  readonly maxEntries?: number;
  /** Predictions older than this are forgotten, in ms (default one hour). */
  readonly maxAgeMs?: number;
  /** The clock, in ms (tests give their own). */
  readonly now?: () => number;
  /** Each prediction's weight (its bytes, say), for `maxWeight` (default 1 each). */
  readonly weigh?: (value: unknown) => number;
  /** The weight kept at most (default: no bound beyond `maxEntries`). */
  readonly maxWeight?: number;
}

/** What {@link PredictionStore.take} found. */
export type Taken<T> = { readonly found: true; readonly value: T } | { readonly found: false; readonly reason: 'unknown' | 'taken' };

/** Recent predictions by id, each taken once. */
export class PredictionStore<T> {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
  readonly #now: () => number;
  readonly maxWeight: number;
  readonly #weigh: (value: T) => number;
  #weight = 0;
  readonly #entries = new Map<string, { value: T | undefined; at: number; weight: number }>();

  constructor(options: PredictionStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries >= 1)) throw new RangeError(`maxEntries must be a whole number of 1 or more, got ${this.maxEntries}`);
    if (!(this.maxAgeMs > 0)) throw new RangeError(`maxAgeMs must be above 0, got ${this.maxAgeMs}`);
    this.#now = options.now ?? (() => performance.now());
    this.maxWeight = options.maxWeight ?? Infinity;
    if (!(this.maxWeight > 0)) throw new RangeError(`maxWeight must be above 0, got ${this.maxWeight}`);
    this.#weigh = (options.weigh as ((value: T) => number) | undefined) ?? (() => 1);
  }

  /** Keeps `value` under `id` (a prediction kept before under the same id is replaced). */
  put(id: string, value: T): void {
    this.#delete(id);
    const weight = this.#weigh(value);
    this.#entries.set(id, { value, at: this.#now(), weight });
    this.#weight += weight;
    this.#expire();
    while (this.#entries.size > this.maxEntries || (this.#weight > this.maxWeight && this.#entries.size > 1)) this.#delete(this.#entries.keys().next().value as string);
  }

  /** The weight kept now. */
  get weight(): number {
    return this.#weight;
  }

  #delete(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#weight -= entry.weight;
    this.#entries.delete(id);
  }

  /** The prediction under `id`, as {@link PredictionStore.take} finds it, left in the store. */
  peek(id: string): Taken<T> {
    this.#expire();
    const entry = this.#entries.get(id);
    if (entry === undefined) return { found: false, reason: 'unknown' };
    return entry.value === undefined ? { found: false, reason: 'taken' } : { found: true, value: entry.value };
  }

  /**
   * The prediction under `id`, once: a second take finds it `taken` (while the id would
   * still be kept), an id never kept, evicted or too old is `unknown`.
   */
  take(id: string): Taken<T> {
    this.#expire();
    const entry = this.#entries.get(id);
    if (entry === undefined) return { found: false, reason: 'unknown' };
    if (entry.value === undefined) return { found: false, reason: 'taken' };
    const value = entry.value;
    // Kept as taken, in its place, so that it still leaves by count and age; its weight goes now.
    entry.value = undefined;
    this.#weight -= entry.weight;
    entry.weight = 0;
    return { found: true, value };
  }

  /** Predictions kept now (taken ones included, until they leave). */
  get size(): number {
    this.#expire();
    return this.#entries.size;
  }

  #expire(): void {
    const oldest = this.#now() - this.maxAgeMs;
    for (const [id, entry] of this.#entries) {
      if (entry.at >= oldest) break;
      this.#delete(id);
    }
  }
}
