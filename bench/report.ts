/** What the benches share: medians and other quantiles, and the tables they print. */

/** The values at quantiles `qs` (0 to 1) of `values`, by the nearest rank below; 0.5 is the median. */
export function quantiles(values: readonly number[], ...qs: number[]): number[] {
  const sorted = [...values].sort((a, b) => a - b);
  return qs.map((q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]);
}

export function median(values: readonly number[]): number {
  return quantiles(values, 0.5)[0];
}

/** Prints `rows` under `header` in columns: the first `leftColumns` (labels) aligned left, the numbers right. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[], leftColumns = 1): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: readonly string[]) => r.map((v, i) => (i < leftColumns ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  rows.forEach((r) => console.log(line(r)));
}
