/**
 * What a served version's profile is made of: its tensors as clients send and get them,
 * each with the reduction its configuration names (`monitor.<tensor>` parameters) or its
 * shape's default. Shared by profiles made from data files (profile-version.ts) and
 * captured from a version's first requests (drift-monitoring.ts).
 */
import type { PlainTensor } from '../core/tensor';
import type { ServingPlan } from '../server/model/serving-plan';
import { ModelProfileBuilder, type MonitoredTensor } from './model-profile';
import type { Reduction } from './tensor-features';

/** The parameter prefix that sets a tensor's reduction (`monitor.x`: `channels`). */
export const REDUCTION_PARAMETER = 'monitor.';

/** A tensor's reduction from a `monitor.<tensor>` parameter's value: undefined for `off`. */
export function parseReduction(value: string, where: string): Reduction | undefined {
  const [kind, axis] = value.trim().split(':');
  if (kind === 'off') return undefined;
  if (kind === 'channels') {
    const a = axis === undefined ? 0 : Number(axis);
    if (!Number.isInteger(a) || a < 0) throw new Error(`${where}: the channels' axis must be a whole number, got "${axis}"`);
    return { kind: 'channels', axis: a };
  }
  if ((kind === 'features' || kind === 'classes' || kind === 'values' || kind === 'centroid') && axis === undefined) return { kind };
  throw new Error(`${where} must be features, channels, channels:<axis>, classes, values, centroid or off, got "${value}"`);
}

/** The reductions the configuration's parameters name, by tensor (undefined: `off`); throws naming a bad one. */
export function configReductions(model: string, plan: ServingPlan, parameters: Readonly<Record<string, { readonly string_value: string }>>): Map<string, Reduction | undefined> {
  const reductions = new Map<string, Reduction | undefined>();
  for (const [key, p] of Object.entries(parameters)) {
    if (!key.startsWith(REDUCTION_PARAMETER)) continue;
    const tensor = key.slice(REDUCTION_PARAMETER.length);
    if (![...plan.inputs, ...plan.outputs].some((t) => t.name === tensor)) throw new Error(`parameter "${key}": model "${model}" has no input or output "${tensor}"`);
    reductions.set(tensor, parseReduction(p.string_value, `parameter "${key}"`));
  }
  return reductions;
}

/**
 * A builder of a version's profile, its tensors' rows taken from a first request's
 * `tensors` (inputs and outputs by name): a dimension the configuration leaves open (-1)
 * takes the data's. Tensors the request lacks, and those set `off`, are not profiled.
 */
export function versionProfileBuilder(plan: ServingPlan, reductions: ReadonlyMap<string, Reduction | undefined>, tensors: Readonly<Record<string, PlainTensor>>): ModelProfileBuilder {
  const batched = plan.maxBatchSize > 0;
  return new ModelProfileBuilder(
    [...plan.inputs.map((t) => [t, false] as const), ...plan.outputs.map((t) => [t, true] as const)]
      .filter(([t]) => tensors[t.name] !== undefined && (!reductions.has(t.name) || reductions.get(t.name) !== undefined))
      .map(([t, output]): MonitoredTensor => {
        const dims = tensors[t.name].dims;
        const reduction = reductions.get(t.name);
        return { name: t.name, row: batched ? dims.slice(1) : dims, output, ...(reduction !== undefined && { reduction }) };
      }),
  );
}
