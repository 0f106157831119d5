import { describe, expect, it } from "vitest";
import { orderedId } from "../../src/outbox/ids.js";

describe("row ids", () => {
  it("sort in creation order, within one millisecond and across them", () => {
    const ids = [orderedId(5000), orderedId(5000), orderedId(5000), orderedId(5001), orderedId(4000)];
    expect([...ids].sort()).toEqual(ids);
  });

  it("are version 7 UUIDs and unique", () => {
    const ids = Array.from({ length: 10_000 }, () => orderedId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 50)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
