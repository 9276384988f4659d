/**
 * Completion text a client received, kept to estimate the usage of a stream that was cut: bounded
 * whatever the stream's length, the first SAMPLE_CHARS are kept (the estimate extrapolates from them),
 * the rest only counted (docs/contract.md §7.2).
 */

/** The token estimate counts ~24k characters exactly and extrapolates the rest, so more is not needed. */
const SAMPLE_CHARS = 64 * 1024;

/** Completion text the client received: its first SAMPLE_CHARS, and how many characters in all. */
export interface StreamedText {
  sample: string;
  chars: number;
}

export class TextSample {
  private readonly parts: string[] = [];
  private sampleChars = 0;
  private chars = 0;

  add(text: string): void {
    this.chars += text.length;
    if (this.sampleChars >= SAMPLE_CHARS) return;
    this.parts.push(text);
    this.sampleChars += text.length;
  }

  streamedText(): StreamedText {
    return { sample: this.parts.join(''), chars: this.chars };
  }
}
