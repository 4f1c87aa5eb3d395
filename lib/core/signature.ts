/**
 * Typed sessions: a model's input and output names and element types, carried from
 * `createSession<Sig>()` into `run`'s parameters and results. `onnx-native inspect
 * MODEL --types` prints the signature of a model.
 */
import type { ElementType } from './dtypes';
import type { AnyTensor, PlainTensor, TensorLike } from './tensor';

/**
 * A model's signature: element type by input and output name.
 *
 * @example
 * ```ts
 * interface Classifier extends Signature {
 *   inputs: { x: 'float32' };
 *   outputs: { probs: 'float32' };
 * }
 * const session = await createSession<Classifier>('cls.onnx');
 * const { probs } = await session.run({ x: tensor('float32', pixels, [1, 3, 48, 192]) });
 * ```
 */
export interface Signature {
  inputs: Record<string, ElementType>;
  outputs: Record<string, ElementType>;
}

/** The signature of a session created without one: any names, any types. */
export interface AnySignature extends Signature {
  inputs: Record<string, ElementType>;
  outputs: Record<string, ElementType>;
}

/** A tensor of element type `T`, or of any type when `T` is not one specific type. */
export type TensorOf<T extends ElementType> = ElementType extends T ? AnyTensor : PlainTensor<T>;

/** The output names of a signature. */
export type OutputName<S extends Signature> = Extract<keyof S['outputs'], string>;

/**
 * What `run` takes: a tensor for every input. A typed session wants each input's exact
 * element type; an untyped one takes any `{ type, dims, data }` (checked at run time).
 */
export type Feeds<S extends Signature> = string extends keyof S['inputs']
  ? Record<string, TensorLike>
  : { [K in keyof S['inputs']]: PlainTensor<S['inputs'][K]> };

/** What `run` returns: a tensor for each requested output. */
export type Results<S extends Signature, O extends OutputName<S> = OutputName<S>> = string extends O
  ? Record<string, AnyTensor>
  : { [K in O]: TensorOf<S['outputs'][K]> };
