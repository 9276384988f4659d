/**
 * A log line for a fault that repeats on every request (a dead Redis), written at most once per
 * interval with how many times it happened since the previous line: the log says how often without
 * being flooded. Count each occurrence in a metric as well; this only decides when to speak.
 */
export class ThrottledNotice<T> {
  #unreported = 0;
  #lastNotice = -Infinity;

  constructor(
    private readonly intervalMs: number,
    private readonly notify: (detail: T, occurrences: number) => void,
  ) {}

  note(detail: T): void {
    this.#unreported += 1;
    const now = performance.now();
    if (now - this.#lastNotice < this.intervalMs) return;
    this.#lastNotice = now;
    const occurrences = this.#unreported;
    this.#unreported = 0;
    this.notify(detail, occurrences);
  }
}
