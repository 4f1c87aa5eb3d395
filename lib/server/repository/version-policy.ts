/**
 * Which of a model's version folders are served: Triton's `version_policy`. The default is
 * the latest one; `latest { num_versions: N }` the N highest; `all {}` every one;
 * `specific { versions: [...] }` those listed that exist.
 */

/** Triton's ModelVersionPolicy, as the configuration holds it. */
export interface VersionPolicy {
  readonly latest?: { readonly num_versions?: number };
  readonly all?: Record<string, never>;
  readonly specific?: { readonly versions?: readonly number[] };
}

/** The versions of `available` (ascending) that `policy` serves, ascending. */
export function servedVersions(available: readonly number[], policy: VersionPolicy | undefined): number[] {
  const sorted = [...available].sort((a, b) => a - b);
  if (policy?.all !== undefined) return sorted;
  if (policy?.specific !== undefined) {
    const wanted = new Set(policy.specific.versions ?? []);
    return sorted.filter((v) => wanted.has(v));
  }
  const n = policy?.latest?.num_versions ?? 1;
  return sorted.slice(Math.max(0, sorted.length - n));
}

/** Words for a policy, for messages ("latest 1", "all", "specific [1, 3]"). */
export function describePolicy(policy: VersionPolicy | undefined): string {
  if (policy?.all !== undefined) return 'all';
  if (policy?.specific !== undefined) return `specific [${(policy.specific.versions ?? []).join(', ')}]`;
  return `latest ${policy?.latest?.num_versions ?? 1}`;
}
