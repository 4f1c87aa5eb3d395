/**
 * @internal A first-come, first-served limit on work in flight: the compat layer's runs
 * of one session (as many as the cores hold), the server's runs of a model that does not
 * batch (as many as its instances).
 */
/** A first-come, first-served gate of `slots` places. */
export class RunGate {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.#free = slots;
  }

  /** Runs `work` when a place is free, and frees it when `work` settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}
