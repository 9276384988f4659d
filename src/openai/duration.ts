/** Durations as OpenAI writes them, in x-ratelimit-reset-* headers and in 429 messages. */

/**
 * Go `time.Duration` style as OpenAI sends it (`20ms`, `1.5s`, `6m0s`, `2m59.56s`, `1h0m0s`).
 * Rounded up to whole ms: a client told to wait must never come back too early.
 * (docs/wire.md §8.2)
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1_000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const millis = total % 60_000;
  const fraction = millis % 1_000 === 0 ? '' : `.${String(millis % 1_000).padStart(3, '0').replace(/0+$/, '')}`;
  const seconds = `${Math.floor(millis / 1_000)}${fraction}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  return minutes > 0 ? `${minutes}m${seconds}` : seconds;
}
