import { describe, expect, it } from "vitest";
import { fitBytes, keepChars } from "../src/truncate.js";

describe("keepChars", () => {
  it("keeps short text as it is", () => {
    expect(keepChars("disk full", 9)).toBe("disk full");
  });

  it("cuts at a code point, so an emoji is never split, and marks the cut", () => {
    expect(keepChars("🔥🔥🔥", 2)).toBe("🔥🔥…");
    expect(keepChars("磁盘已满请处理", 4)).toBe("磁盘已满…");
  });

  it("leaves text alone for a limit that is not a count", () => {
    expect(keepChars("abc", Number.NaN)).toBe("abc");
    expect(keepChars("abc", -1)).toBe("abc");
  });
});

describe("fitBytes", () => {
  it("keeps text that fits", () => {
    expect(fitBytes("abc", 3)).toBe("abc");
  });

  it("fits the cut text and its ellipsis in the byte limit, never splitting a character", () => {
    const cut = fitBytes("磁盘已满请处理", 10); // 3 bytes a character; "…" is 3 too
    expect(cut).toBe("磁盘…");
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(10);
  });
});
