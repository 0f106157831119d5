// Splits a message into numbered parts that each fit WeCom's limit in UTF-8 bytes.
// Cuts fall between lines; only a line longer than a whole part is cut inside, and then
// between characters. Nothing is dropped.

/**
 * Returns `[content]` when it fits; otherwise parts whose first line starts with
 * "(i/N) ", each at most `limitBytes` bytes including that marker. A first line that
 * is a markdown heading or quote keeps its "## " / "> " in front, so it still renders.
 * Throws RangeError if the limit cannot hold a marker plus one character.
 */
export function splitByBytes(content: string, limitBytes: number): string[] {
  if (Buffer.byteLength(content, "utf8") <= limitBytes) return [content];

  const lines = content.split("\n");
  const lineBytes = lines.map((line) => Buffer.byteLength(line, "utf8"));

  // Markers grow with the part count ("(9/9) " vs "(10/10) "), which can change the count.
  // Packing depends only on how many digits the total has, so re-pack until that is stable.
  let assumedTotal = 2;
  for (;;) {
    const chunks = pack(lines, lineBytes, limitBytes, assumedTotal);
    if (digits(chunks.length) <= digits(assumedTotal)) {
      return chunks.map((chunk, index) => withMarker(chunk, marker(index + 1, chunks.length)));
    }
    assumedTotal = chunks.length;
  }
}

function marker(index: number, total: number): string {
  return `(${index}/${total}) `;
}

const MARKDOWN_LINE_PREFIX = /^(?:#{1,6} |> )/;

function withMarker(chunk: string, text: string): string {
  const prefix = MARKDOWN_LINE_PREFIX.exec(chunk)?.[0] ?? "";
  return prefix + text + chunk.slice(prefix.length);
}

function digits(n: number): number {
  return String(n).length;
}

/** Greedy packing, one pass over the lines; returns part bodies without markers. */
function pack(lines: string[], lineBytes: number[], limitBytes: number, assumedTotal: number): string[] {
  const parts: string[] = [];
  let current: string[] = [];
  let currentBytes = 0;
  // Markers are ASCII, so their length is their byte count.
  const capacity = () => limitBytes - marker(parts.length + 1, assumedTotal).length;
  const flush = () => {
    parts.push(current.join("\n"));
    current = [];
    currentBytes = 0;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const bytes = lineBytes[i] ?? 0;
    if (capacity() < 1) throw new RangeError(`limit of ${limitBytes} bytes cannot hold the part markers`);
    const needed = current.length === 0 ? bytes : currentBytes + 1 + bytes; // +1 for "\n"
    if (needed <= capacity()) {
      current.push(line);
      currentBytes = needed;
      continue;
    }
    if (current.length > 0) flush();
    if (bytes <= capacity()) {
      current.push(line);
      currentBytes = bytes;
      continue;
    }
    // A line longer than a whole part: fill parts with it, cutting between characters.
    for (const piece of cutLine(line, capacity, () => parts.length)) {
      current.push(piece.text);
      currentBytes = piece.bytes;
      if (!piece.last) flush();
    }
  }
  if (current.length > 0) flush();
  return parts;
}

/**
 * Cuts one line into pieces of at most capacity() bytes, never inside a character.
 * capacity is re-read per piece because later parts can have longer markers.
 */
function* cutLine(
  line: string,
  capacity: () => number,
  partIndex: () => number,
): Generator<{ text: string; bytes: number; last: boolean }> {
  let start = 0;
  let bytes = 0;
  let i = 0;
  while (i < line.length) {
    const codePoint = line.codePointAt(i) ?? 0;
    const width = codePoint > 0xffff ? 2 : 1; // UTF-16 units
    const size = utf8Size(codePoint);
    if (bytes + size > capacity()) {
      if (bytes === 0) {
        throw new RangeError(`limit too small: part ${partIndex() + 1} cannot hold one character`);
      }
      yield { text: line.slice(start, i), bytes, last: false };
      start = i;
      bytes = 0;
      continue;
    }
    bytes += size;
    i += width;
  }
  yield { text: line.slice(start), bytes, last: true };
}

// Lone surrogates count 3: Buffer.byteLength encodes them as U+FFFD.
function utf8Size(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}
