import { describe, expect, it } from "vitest";
import { fitBytes, fitWidth, keepChars, textWidth } from "../src/truncate.js";

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

describe("textWidth and fitWidth", () => {
  it("counts a Latin character as half a 字 and anything else as one", () => {
    expect(textWidth("Silence 24h")).toBe(5.5);
    expect(textWidth("静默1h")).toBe(3);
  });

  it("cuts to the width with its ellipsis counted, keeping what fits whole", () => {
    expect(fitWidth("Silence 24h", 10)).toBe("Silence 24h");
    const cut = fitWidth("静默二十四小时以上的告警", 10);
    expect(cut).toBe("静默二十四小时以上…");
    expect(textWidth(cut)).toBeLessThanOrEqual(10);
  });
});
