/**
 * Exact o200k_base counts of texts seen recently. Chat clients resend every earlier message on each
 * turn, and agents send the same system prompt and tool schemas on every call, so most of a prompt's
 * text was counted moments ago. Tokenizing costs time per character plus a fixed cost per call (even
 * for `"user"`); a hit costs V8's string hash and one comparison, a small fraction of either.
 *
 * Bounded by the characters it holds; the oldest entries leave first (a Map iterates in insertion
 * order). Texts stay in process memory only, as long as their requests would anyway at this size.
 */
export class TokenCountCache {
  readonly #counts = new Map<string, number>();
  #chars = 0;

  /** `maxChars`: the most text held; one text over an eighth of it is never kept (it would evict everything). */
  constructor(private readonly maxChars: number) {}

  get(text: string): number | undefined {
    return this.#counts.get(text);
  }

  set(text: string, tokens: number): void {
    if (text.length > this.maxChars / 8 || this.#counts.has(text)) return;
    this.#counts.set(text, tokens);
    this.#chars += text.length;
    for (const oldest of this.#counts.keys()) {
      if (this.#chars <= this.maxChars) break;
      this.#counts.delete(oldest);
      this.#chars -= oldest.length;
    }
  }

  get size(): number {
    return this.#counts.size;
  }
}
