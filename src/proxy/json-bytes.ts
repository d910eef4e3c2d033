// Reading a JSON member from raw bytes without decoding the document: the answers Sluice reads
// a few facts from (usage, a model's name, a response's id) are searched as they passed.

const COLON = 0x3a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whitespace as a regular expression's `\s` takes it in ASCII: space, tab, line feed, vertical tab, form feed, carriage return. */
export function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || (byte !== undefined && byte >= 0x09 && byte <= 0x0d);
}

/** Where the value of `"name"` found at `keyEnd` starts (after optional spaces, a colon, optional spaces), or -1. */
export function valueStart(data: Buffer, keyEnd: number): number {
  let at = keyEnd;
  while (isSpace(data[at])) at++;
  if (data[at] !== COLON) return -1;
  at++;
  while (isSpace(data[at])) at++;
  return at;
}

/**
 * The first `"name": "text"` in `data` (`key` is `"name"` with its quotes) whose text has no
 * quote or backslash and is 1 to `maxChars` characters long.
 */
export function firstString(data: Buffer, key: Buffer, maxChars: number): string | undefined {
  for (let found = data.indexOf(key); found !== -1; found = data.indexOf(key, found + 1)) {
    const open = valueStart(data, found + key.length);
    if (open === -1 || data[open] !== QUOTE) continue;
    let close = open + 1;
    // A character is at most 4 bytes in UTF-8: no text of maxChars characters runs longer.
    const limit = Math.min(data.length, open + 1 + maxChars * 4 + 1);
    while (close < limit && data[close] !== QUOTE && data[close] !== BACKSLASH) close++;
    if (close === open + 1 || data[close] !== QUOTE) continue;
    const text = data.toString('utf8', open + 1, close);
    if (text.length <= maxChars) return text;
  }
  return undefined;
}
