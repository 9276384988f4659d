/**
 * Finds the top-level `usage` member of a JSON answer as it streams past, without holding the answer:
 * for answers too large to buffer. Only the usage value's own bytes are kept (bounded); a `"usage"`
 * nested anywhere else (an echoed `metadata`, a tool's arguments) is not the answer's usage.
 */
import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-scan.js';
import { normaliseUsage, type Usage } from './usage.js';

const USAGE_KEY = 'usage';
/** A usage object is a few hundred bytes; anything far larger is not one. */
const MAX_USAGE_BYTES = 64 * 1024;

export class TopLevelUsageScan {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Inside the top-level object, the next string is a member name. */
  private expectKey = false;
  private key: number[] | undefined;
  private lastKey = '';
  private captured: Buffer[] | undefined;
  private capturedBytes = 0;
  private usageValue: string | undefined;

  push(chunk: Buffer): void {
    let captureFrom = this.captured ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) this.endString();
        else if (this.key && this.key.length <= USAGE_KEY.length) this.key.push(c);
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.expectKey) this.key = [];
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        this.depth++;
        if (this.depth === 1) this.expectKey = true;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET || (c === COMMA && this.depth === 1)) {
        if (this.depth === 1 && this.captured) this.finishCapture(chunk.subarray(captureFrom, i));
        if (c === COMMA) this.expectKey = true;
        else this.depth--;
      } else if (c === COLON && this.depth === 1 && this.lastKey === USAGE_KEY) {
        this.captured = [];
        this.capturedBytes = 0;
        captureFrom = i + 1;
      }
    }
    if (this.captured && captureFrom >= 0) this.keep(chunk.subarray(captureFrom));
  }

  /** The usage the answer reported at its top level, if any. */
  usage(): Usage | undefined {
    if (this.usageValue === undefined) return undefined;
    try {
      return normaliseUsage(JSON.parse(this.usageValue));
    } catch {
      return undefined;
    }
  }

  private endString(): void {
    this.inString = false;
    if (!this.key) return;
    this.lastKey = String.fromCharCode(...this.key);
    this.key = undefined;
    this.expectKey = false;
  }

  private keep(bytes: Buffer): void {
    this.capturedBytes += bytes.length;
    if (this.capturedBytes > MAX_USAGE_BYTES) this.captured = undefined;
    else this.captured?.push(Buffer.from(bytes)); // a copy: the chunk itself is not kept
  }

  private finishCapture(last: Buffer): void {
    this.keep(last);
    if (this.captured) this.usageValue = Buffer.concat(this.captured).toString('utf8');
    this.captured = undefined;
    this.lastKey = '';
  }
}
