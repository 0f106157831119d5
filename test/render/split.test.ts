import { describe, expect, it } from "vitest";
import { splitByBytes } from "../../src/render/split.js";

const bytes = (text: string) => Buffer.byteLength(text, "utf8");
const MARKER = /^(#{1,6} |> )?\((\d+)\/(\d+)\) /;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stripMarker(part: string): string {
  return part.replace(MARKER, "$1");
}

/**
 * Checks every promise splitByBytes makes: each part fits, markers count 1..N, no
 * character is torn, and the parts give back the input exactly, where each cut either
 * dropped one "\n" (a cut between lines) or nothing (a cut inside a long line).
 */
function expectValidSplit(content: string, limit: number, parts: string[]): void {
  for (const part of parts) expect(bytes(part)).toBeLessThanOrEqual(limit);
  if (parts.length === 1) {
    expect(parts[0]).toBe(content);
    return;
  }
  let position = 0;
  parts.forEach((part, index) => {
    const match = MARKER.exec(part);
    expect(match?.[2]).toBe(String(index + 1));
    expect(match?.[3]).toBe(String(parts.length));
    const body = stripMarker(part);
    expect(LONE_SURROGATE.test(body)).toBe(false);
    if (index > 0 && content[position] === "\n") position += 1;
    expect(content.startsWith(body, position)).toBe(true);
    position += body.length;
  });
  expect(position).toBe(content.length);
}

/** Small deterministic generator (mulberry32), so failures reproduce. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("splitByBytes", () => {
  it("returns the content as it is when it fits", () => {
    expect(splitByBytes("short", 2048)).toEqual(["short"]);
    expect(splitByBytes("", 10)).toEqual([""]);
  });

  it("does not split content of exactly the limit", () => {
    const content = "a".repeat(10) + "\n" + "中".repeat(3); // 10 + 1 + 9 = 20 bytes
    expect(splitByBytes(content, 20)).toEqual([content]);
  });

  it("splits one byte over the limit into two numbered parts at the line break", () => {
    const content = "a".repeat(10) + "\n" + "b".repeat(10); // 21 bytes
    expect(splitByBytes(content, 20)).toEqual(["(1/2) aaaaaaaaaa", "(2/2) bbbbbbbbbb"]);
  });

  it("fills a part up to exactly the limit, marker included", () => {
    // "(1/2) " is 6 bytes: 6 + 6 + 1 + 7 = 20 fits, one more line does not.
    const parts = splitByBytes("aaaaaa\nbbbbbbb\ncccccc", 20); // 21 bytes in all
    expect(parts).toEqual(["(1/2) aaaaaa\nbbbbbbb", "(2/2) cccccc"]);
    expect(bytes(parts[0] ?? "")).toBe(20);
  });

  it("keeps whole lines of ASCII together", () => {
    const content = Array.from({ length: 40 }, (_, i) => `line ${i} of the alert`).join("\n");
    const parts = splitByBytes(content, 100);
    expectValidSplit(content, 100, parts);
    for (const part of parts) expect(stripMarker(part).split("\n").every((line) => /^line \d+ of the alert$/.test(line))).toBe(true);
  });

  it("counts CJK characters as three bytes", () => {
    const line = "磁盘空间不足请尽快处理"; // 11 characters, 33 bytes
    const content = Array.from({ length: 6 }, () => line).join("\n");
    const parts = splitByBytes(content, 80); // two lines + marker = 6 + 33 + 1 + 33 = 73
    expect(parts).toHaveLength(3);
    expectValidSplit(content, 80, parts);
  });

  it("cuts a single long line of emoji between characters, never inside one", () => {
    const content = "🔥".repeat(100); // 400 bytes, one line
    const parts = splitByBytes(content, 50);
    expectValidSplit(content, 50, parts);
    for (const part of parts) expect(Array.from(stripMarker(part)).every((char) => char === "🔥")).toBe(true);
  });

  it("cuts a long line of mixed-width characters without tearing any", () => {
    const content = "aé中😀".repeat(200);
    expectValidSplit(content, 64, splitByBytes(content, 64));
  });

  it("starts a long line in a fresh part after shorter lines", () => {
    const parts = splitByBytes("head\n" + "x".repeat(50), 30);
    expect(stripMarker(parts[0] ?? "")).toBe("head");
    expectValidSplit("head\n" + "x".repeat(50), 30, parts);
  });

  it("keeps blank lines", () => {
    const content = "a\n\n\nb\n\nc".replace(/[abc]/g, (c) => c.repeat(12));
    expectValidSplit(content, 20, splitByBytes(content, 20));
  });

  it("re-packs when the part count gains a digit and longer markers no longer fit", () => {
    // 23-byte lines, 30-byte limit: "(i/9) " + line fits (29), but "(10/10) " + line (31) does not.
    const line = "x".repeat(23);
    const nine = splitByBytes(Array.from({ length: 9 }, () => line).join("\n"), 30);
    expect(nine).toHaveLength(9);
    expect(nine[8]).toBe(`(9/9) ${line}`);

    const tenLines = Array.from({ length: 10 }, () => line).join("\n");
    const parts = splitByBytes(tenLines, 30);
    expect(parts).toHaveLength(11);
    expect(parts[0]).toBe(`(1/11) ${line}`);
    expect(parts[10]).toBe("(11/11) x");
    expectValidSplit(tenLines, 30, parts);
  });

  it("puts the marker after a markdown heading or quote prefix so the line still renders", () => {
    const content = ["## Heading", "a".repeat(20), "> quoted", "b".repeat(20), "#hashtag", "c".repeat(20)].join("\n");
    const parts = splitByBytes(content, 40);
    expect(parts.map((part) => part.split("\n")[0])).toEqual(["## (1/3) Heading", "> (2/3) quoted", "(3/3) #hashtag"]);
    expectValidSplit(content, 40, parts);
  });

  it("rejects a limit that cannot hold a marker and one character", () => {
    expect(() => splitByBytes("😀😀😀😀", 9)).toThrow(RangeError);
    expect(() => splitByBytes("a\nb\nc\nd", 5)).toThrow(RangeError);
  });

  it("keeps every part within the limit and loses nothing, over many generated inputs", () => {
    const alphabet = ["a", "b", " ", "## ", "> ", "é", "ß", "中", "文", "😀", "🔥", "\n", "\n", "\n\n"];
    const next = random(20250601);
    for (let round = 0; round < 300; round++) {
      const length = Math.floor(next() * 400);
      let content = "";
      for (let i = 0; i < length; i++) content += alphabet[Math.floor(next() * alphabet.length)] ?? "";
      const limit = 16 + Math.floor(next() * 120);
      expectValidSplit(content, limit, splitByBytes(content, limit));
    }
  });

  it("splits a megabyte of many lines quickly", () => {
    const content = Array.from({ length: 25_000 }, (_, i) => `${i} 告警 HighLatency instance=10.0.0.${i % 255}:8080`).join("\n");
    expect(bytes(content)).toBeGreaterThan(1_000_000);
    const started = performance.now();
    const parts = splitByBytes(content, 2048);
    const elapsed = performance.now() - started;
    expectValidSplit(content, 2048, parts);
    expect(elapsed).toBeLessThan(2000);
  });

  it("splits a megabyte on a single line quickly", () => {
    const content = "中".repeat(350_000);
    const started = performance.now();
    const parts = splitByBytes(content, 4096);
    expect(performance.now() - started).toBeLessThan(2000);
    expectValidSplit(content, 4096, parts);
  });
});
