/**
 * A version's ground truth over a sliding window (the last `size` of each kind, none
 * older than `maxAgeMs`): for classifiers whether each prediction was right (accuracy),
 * for regressors each prediction's absolute and squared error (MAE, RMSE), and rewards
 * (their mean: the reward ratio, for rewards in [0, 1]). Sums are kept as values come and
 * go, so reading is O(1) besides what has aged out.
 */

/** Options of a {@link FeedbackWindow}. */
export interface FeedbackWindowOptions {
  /** Values of each kind kept (default 1000). */
  readonly size?: number;
  /** Values older than this leave, in ms (default one hour). */
  readonly maxAgeMs?: number;
  /** The clock, in ms. */
  readonly now?: () => number;
}

/** A ring of numbers with their times and running sums. */
class Ring {
  readonly #values: Float64Array;
  readonly #squares: Float64Array;
  readonly #times: Float64Array;
  #start = 0;
  length = 0;
  sum = 0;
  sumOfSquares = 0;

  constructor(size: number) {
    this.#values = new Float64Array(size);
    this.#squares = new Float64Array(size);
    this.#times = new Float64Array(size);
  }

  add(value: number, square: number, at: number): void {
    const size = this.#values.length;
    if (this.length === size) this.#dropOldest();
    const i = (this.#start + this.length) % size;
    this.#values[i] = value;
    this.#squares[i] = square;
    this.#times[i] = at;
    this.sum += value;
    this.sumOfSquares += square;
    this.length++;
  }

  expire(oldest: number): void {
    while (this.length > 0 && this.#times[this.#start] < oldest) this.#dropOldest();
    // Running sums drift by rounding as values come and go; an empty ring starts clean.
    if (this.length === 0) this.sum = this.sumOfSquares = 0;
  }

  #dropOldest(): void {
    this.sum -= this.#values[this.#start];
    this.sumOfSquares -= this.#squares[this.#start];
    this.#start = (this.#start + 1) % this.#values.length;
    this.length--;
  }
}

/** What a {@link FeedbackWindow} tells now; a figure is absent when its kind has no value. */
export interface FeedbackFigures {
  /** Classifications with ground truth in the window. */
  readonly classified: number;
  readonly accuracy?: number;
  /** Regressions with ground truth in the window. */
  readonly regressed: number;
  readonly mae?: number;
  readonly rmse?: number;
  /** Rewards in the window. */
  readonly rewarded: number;
  readonly reward?: number;
}

/** A version's accuracy, errors and rewards over a sliding window. */
export class FeedbackWindow {
  readonly #size: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #correct: Ring;
  readonly #errors: Ring;
  readonly #rewards: Ring;

  constructor(options: FeedbackWindowOptions = {}) {
    this.#size = options.size ?? 1000;
    this.#maxAgeMs = options.maxAgeMs ?? 3_600_000;
    if (!(Number.isInteger(this.#size) && this.#size >= 1)) throw new RangeError(`a feedback window's size must be a whole number of 1 or more, got ${this.#size}`);
    if (!(this.#maxAgeMs > 0)) throw new RangeError(`a feedback window's maxAgeMs must be above 0, got ${this.#maxAgeMs}`);
    this.#now = options.now ?? (() => performance.now());
    this.#correct = new Ring(this.#size);
    this.#errors = new Ring(this.#size);
    this.#rewards = new Ring(this.#size);
  }

  /** A classification, right or wrong. */
  addClassification(correct: boolean): void {
    this.#correct.add(correct ? 1 : 0, 0, this.#now());
  }

  /** A regression's absolute error and squared error (for a tensor, the means over its elements). */
  addError(absolute: number, squared: number): void {
    this.#errors.add(absolute, squared, this.#now());
  }

  /** A reward. */
  addReward(reward: number): void {
    this.#rewards.add(reward, 0, this.#now());
  }

  figures(): FeedbackFigures {
    const oldest = this.#now() - this.#maxAgeMs;
    for (const r of [this.#correct, this.#errors, this.#rewards]) r.expire(oldest);
    const c = this.#correct;
    const e = this.#errors;
    const w = this.#rewards;
    return {
      classified: c.length,
      ...(c.length > 0 && { accuracy: c.sum / c.length }),
      regressed: e.length,
      ...(e.length > 0 && { mae: e.sum / e.length, rmse: Math.sqrt(Math.max(0, e.sumOfSquares) / e.length) }),
      rewarded: w.length,
      ...(w.length > 0 && { reward: w.sum / w.length }),
    };
  }
}
