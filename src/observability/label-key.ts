/**
 * One string per label set, for the per-request metrics that keep their own maps (BatchedCounter,
 * FastHistogram): the values in label-name order, each ended by a NUL (names from the config, statuses
 * and routes never contain one).
 * Cheaper than prom-client's hash, which sorts the label object's keys on every call.
 */
export function labelKey<L extends string>(labelNames: readonly L[], labels: Record<L, string>): string {
  let key = '';
  for (const name of labelNames) key += `${labels[name]}\u0000`;
  return key;
}
