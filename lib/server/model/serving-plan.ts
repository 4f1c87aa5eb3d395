/**
 * How one model version is served, in this package's terms: what the model's
 * configuration (Triton's ModelConfig, completed from the model) comes down to once
 * read. The served model (served-model.ts) runs a plan; config-plan.ts makes one from a
 * configuration.
 */
import type { SessionOptions } from '../../runtime/options';
import type { Datatype } from '../protocol/types';

/** One input or output as the configuration declares it. */
export interface TensorPlan {
  readonly name: string;
  readonly datatype: Datatype;
  /** Dimensions without the batch dimension (when max_batch_size > 0); -1 is any size. */
  readonly dims: readonly number[];
  /** The shape the model sees instead of `dims` (Triton's `reshape`), batch dimension apart. */
  readonly reshape?: readonly number[];
  /** Inputs only: whether a request may leave it out. */
  readonly optional?: boolean;
}

/** The dynamic batcher's settings (Triton's `dynamic_batching`). */
export interface BatchingPlan {
  readonly preferredBatchSizes: readonly number[];
  readonly maxQueueDelayMicros: number;
  /** Most requests waiting; undefined: no limit. */
  readonly maxQueueSize?: number;
  /** Priority levels 1 (served first) to `priorityLevels`; 0: priorities off. */
  readonly priorityLevels: number;
  /** The level of a request that gives none. */
  readonly defaultPriority: number;
  /** A request's timeout in the queue; undefined: none. */
  readonly defaultTimeoutMicros?: number;
  /** Whether a request's own `timeout` parameter may shorten it. */
  readonly allowTimeoutOverride: boolean;
}

/** Sessions of one kind (Triton's instance group). */
export interface InstancePlan {
  readonly kind: 'cpu' | 'gpu';
  /** Runs in flight at once (on each GPU, for GPU instances). */
  readonly count: number;
  /** GPU device ids, for GPU instances. */
  readonly gpus: readonly number[];
}

/** A warm-up request (Triton's `model_warmup`). */
export interface WarmupPlan {
  readonly name: string;
  /** Rows, for models with a batch dimension (0 otherwise). */
  readonly batchSize: number;
  /** Times to run it. */
  readonly count: number;
  /**
   * Whether a failure fails the load: true for the configuration's own samples (as in
   * Triton); false for the zero inputs run when it gives none (some models refuse zeros:
   * a failure there is logged, and the model serves).
   */
  readonly required: boolean;
  /** Per input: its data; `dims` without the batch dimension. */
  readonly inputs: Readonly<Record<string, { readonly datatype: Datatype; readonly dims: readonly number[]; readonly fill: 'zero' | 'random' | { readonly file: string } }>>;
}

/** Everything needed to serve one model version. */
export interface ServingPlan {
  /** Rows one request or batch may hold; 0: the model has no batch dimension. */
  readonly maxBatchSize: number;
  /** The dynamic batcher, when requests are batched together. */
  readonly batching?: BatchingPlan;
  readonly instances: readonly InstancePlan[];
  /** Options of each session: threads, graph optimization, execution providers. */
  readonly sessionOptions: SessionOptions;
  readonly inputs: readonly TensorPlan[];
  readonly outputs: readonly TensorPlan[];
  readonly warmup: readonly WarmupPlan[];
  /** The model file in each version folder. */
  readonly modelFile: string;
}
