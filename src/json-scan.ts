/**
 * Scanning JSON in its UTF-8 bytes without parsing it: every JSON delimiter is ASCII and no byte of a
 * multi-byte UTF-8 character is, so indices are byte offsets and slices can be copied as they are.
 * String contents are skipped with indexOf. Input may be cut short (an upstream body): the scanners
 * return -1 when the bytes end first.
 */

export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const OPEN_BRACE = 0x7b;
export const COLON = 0x3a;
export const BACKSLASH = 0x5c;
export const CLOSE_BRACE = 0x7d;
export const OPEN_BRACKET = 0x5b;
export const CLOSE_BRACKET = 0x5d;

export function skipWhitespace(json: Buffer, i: number): number {
  for (;;) {
    const c = json[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index of the quote closing the string that opens at `start`, or -1. */
export function stringEnd(json: Buffer, start: number): number {
  let end = start;
  do end = json.indexOf(QUOTE, end + 1);
  while (end !== -1 && isEscaped(json, end));
  return end;
}

/** Index just past the value that starts at `start`, or -1. */
export function valueEnd(json: Buffer, start: number): number {
  const c = json[start];
  if (c === QUOTE) {
    const end = stringEnd(json, start);
    return end < 0 ? -1 : end + 1;
  }
  if (c === OPEN_BRACE || c === OPEN_BRACKET) return containerEnd(json, start);
  let i = start; // number, true, false or null: up to the next delimiter
  for (;;) {
    const d = json[i];
    if (d === undefined || d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) return i;
    i++;
  }
}

/** A quote is escaped when an odd number of backslashes precede it. */
function isEscaped(json: Buffer, quote: number): boolean {
  let backslashes = 0;
  while (json[quote - 1 - backslashes] === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

/** The decoded string that opens at `start` and closes at `end` (`"mod\u0065l"` is `model`). */
export function stringAt(json: Buffer, start: number, end: number): string {
  for (let i = start + 1; i < end; i++) {
    if (json[i] === BACKSLASH) return JSON.parse(json.toString('utf8', start, end + 1)) as string;
  }
  return json.toString('utf8', start + 1, end);
}

function containerEnd(json: Buffer, start: number): number {
  let depth = 0;
  for (let i = start; i < json.length; i++) {
    const c = json[i];
    if (c === QUOTE) {
      i = stringEnd(json, i);
      if (i < 0) return -1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
  }
  return -1;
}

/**
 * Calls `visit` with each member of the object that opens at the first non-whitespace byte, in order,
 * the name decoded; nested values are skipped whole, never entered. Returns the index of the object's
 * closing brace, or -1 when the bytes are not an object or end (or break) first: the members read
 * until then were visited.
 */
export function forEachMember(json: Buffer, visit: (name: string, valueStart: number, valueEnd: number) => void): number {
  const open = skipWhitespace(json, 0);
  if (json[open] !== OPEN_BRACE) return -1;
  let i = skipWhitespace(json, open + 1);
  while (json[i] === QUOTE) {
    const nameEnd = stringEnd(json, i);
    const colon = nameEnd < 0 ? -1 : skipWhitespace(json, nameEnd + 1);
    if (colon < 0 || json[colon] !== COLON) return -1;
    const valueStart = skipWhitespace(json, colon + 1);
    const end = valueEnd(json, valueStart);
    if (end < 0) return -1;
    visit(stringAt(json, i, nameEnd), valueStart, end);
    i = skipWhitespace(json, end);
    if (json[i] !== COMMA) break;
    i = skipWhitespace(json, i + 1);
  }
  return json[i] === CLOSE_BRACE ? i : -1;
}

/**
 * Whether arrays and objects nest deeper than `maxDepth` anywhere in the bytes (valid JSON or not):
 * one pass over the brackets outside strings, cheap enough to run before parsing.
 */
export function nestsDeeperThan(json: Buffer, maxDepth: number): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === QUOTE) {
      i = stringEnd(json, i);
      if (i < 0) return false; // an open string: not JSON, and the parser says so
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}
