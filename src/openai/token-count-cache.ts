/**
 * Exact o200k_base counts of texts seen recently. Chat clients resend every earlier message on each
 * turn, and agents send the same system prompt and tool schemas on every call, so most of a prompt's
 * text was counted moments ago. Tokenizing costs time per character plus a fixed cost per call (even
 * for `"user"`); a hit costs a string hash and one comparison, a small fraction of either.
 *
 * A long text is not its own key: hashing it and comparing it on a hit read every char of every
 * earlier turn on every request (most of a long conversation's estimate), and V8 hashes strings over
 * 16K chars by their length alone, so those all collide into full compares. It is keyed by a
 * fingerprint instead: its length, its ends and chars sampled across it. Two texts that share one get
 * the same count; the estimate is a reservation settled against the real usage, and such a text could
 * as well have been extrapolated (prompt-tokens.ts).
 *
 * Bounded by the characters its keys hold; the oldest entries leave first. Texts stay in process
 * memory only, as long as their requests would anyway at this size.
 */

/** Texts up to this long are their own key: hashing them costs less than sampling them. */
const LONG_TEXT = 1024;
const FINGERPRINT_ENDS = 64;
const FINGERPRINT_SAMPLES = 64;

interface Entry {
  key: string;
  long: boolean;
}

export class TokenCountCache {
  readonly #short = new Map<string, number>();
  /** Fingerprints of long texts: a separate map, so no short text can stand for one. */
  readonly #long = new Map<string, number>();
  /**
   * Insertion order, oldest at #head. Evicting by iterating a Map from the front walks past the
   * entries deleted before (V8 leaves them in place until it rehashes); a queue evicts in O(1).
   */
  #order: Entry[] = [];
  #head = 0;
  #chars = 0;

  /** `maxChars`: the most text held; one text over an eighth of it is never kept (it would evict everything). */
  constructor(private readonly maxChars: number) {}

  get(text: string): number | undefined {
    return text.length > LONG_TEXT ? this.#long.get(fingerprint(text)) : this.#short.get(text);
  }

  set(text: string, tokens: number): void {
    if (text.length > this.maxChars / 8) return;
    const long = text.length > LONG_TEXT;
    const key = long ? fingerprint(text) : text;
    const map = long ? this.#long : this.#short;
    if (map.has(key)) return;
    map.set(key, tokens);
    this.#order.push({ key, long });
    this.#chars += key.length;
    while (this.#chars > this.maxChars) this.#evictOldest();
  }

  get size(): number {
    return this.#short.size + this.#long.size;
  }

  #evictOldest(): void {
    const { key, long } = this.#order[this.#head]!;
    this.#order[this.#head++] = undefined!; // let the key go now, not at the next compaction
    (long ? this.#long : this.#short).delete(key);
    this.#chars -= key.length;
    // Drop the evicted prefix once it is half the queue: amortised O(1) per entry.
    if (this.#head * 2 >= this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * A long text's key: its length, both ends, and chars at evenly spaced offsets between them. Built
 * from char codes, so the key is a string of its own: slices of the text would keep the text alive.
 */
function fingerprint(text: string): string {
  const codes: number[] = [];
  const take = (i: number) => codes.push(text.charCodeAt(i));
  const step = Math.floor((text.length - 2 * FINGERPRINT_ENDS) / (FINGERPRINT_SAMPLES + 1));
  for (let i = 0; i < FINGERPRINT_ENDS; i++) take(i);
  for (let i = 1; i <= FINGERPRINT_SAMPLES; i++) take(FINGERPRINT_ENDS + i * step);
  for (let i = text.length - FINGERPRINT_ENDS; i < text.length; i++) take(i);
  return `${text.length}:${String.fromCharCode(...codes)}`;
}
