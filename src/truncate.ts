// Cutting text short, the one way: at a character (code point) boundary, so emoji and CJK
// stay whole, with "…" marking that something was left out.

export const ELLIPSIS = "…";

/** The first `keep` characters, then "…" when anything was cut. */
export function keepChars(text: string, keep: number): string {
  if (!Number.isFinite(keep) || keep < 0) return text;
  const chars = Array.from(text);
  return chars.length <= keep ? text : chars.slice(0, Math.floor(keep)).join("") + ELLIPSIS;
}

/** `text` fitted into `limit` bytes of UTF-8, "…" included when it had to be cut. */
export function fitBytes(text: string, limit: number): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const room = limit - Buffer.byteLength(ELLIPSIS);
  let out = "";
  let bytes = 0;
  for (const char of text) {
    bytes += Buffer.byteLength(char);
    if (bytes > room) break;
    out += char;
  }
  return out + ELLIPSIS;
}

/**
 * How wide text reads where limits are counted in 字 (CJK characters): a Latin letter,
 * digit or space is half of one, everything else one.
 */
export function textWidth(text: string): number {
  let width = 0;
  for (const char of text) width += char.codePointAt(0)! < 0x80 ? 0.5 : 1;
  return width;
}

/** `text` fitted into `maxWidth` 字 (see textWidth), "…" included when it had to be cut. */
export function fitWidth(text: string, maxWidth: number): string {
  if (textWidth(text) <= maxWidth) return text;
  const room = maxWidth - textWidth(ELLIPSIS);
  let out = "";
  let width = 0;
  for (const char of text) {
    width += textWidth(char);
    if (width > room) break;
    out += char;
  }
  return out + ELLIPSIS;
}
