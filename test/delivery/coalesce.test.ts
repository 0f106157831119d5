import { describe, expect, it } from "vitest";
import { packDigests, shouldCoalesce, type DigestRenderer } from "../../src/delivery/coalesce.js";
import { message } from "../support/messages.js";

const render: DigestRenderer = (items, context) =>
  [`${items.length} notifications for ${context.receiver}`, ...items.map((item) => `- ${item.summary}`)].join("\n");

function rows(count: number, overrides: Parameters<typeof message>[0] = {}) {
  return Array.from({ length: count }, (_, i) => ({
    id: `row-${i}`,
    createdAt: 1000 + i,
    message: message({ summary: `[FIRING:1] Alert${i}`, eventIds: [`event-${i}`], ...overrides }),
  }));
}

describe("coalescing", () => {
  it("coalesces only when the backlog would take longer than the threshold to drain", () => {
    expect(shouldCoalesce(10, 3000, 30_000)).toBe(false);
    expect(shouldCoalesce(11, 3000, 30_000)).toBe(true);
    expect(shouldCoalesce(1, 1_000_000, 30_000)).toBe(false);
  });

  it("packs every row into digests that each fit the byte limit, in order", () => {
    const input = rows(500);
    const units = packDigests(input, "robot-a", () => 1024, render);
    expect(units.length).toBeGreaterThan(1);
    expect(units.length).toBeLessThan(50);
    for (const unit of units) expect(Buffer.byteLength(unit.message.content)).toBeLessThanOrEqual(1024);
    expect(units.flatMap((u) => u.rowIds)).toEqual(input.map((r) => r.id));
    // A unit of one row goes out as that row's own message.
    const listed = units.map((u) => (u.coalesced ? u.message.content : u.message.summary)).join("\n");
    for (let i = 0; i < 500; i++) expect(listed).toContain(`Alert${i}\n`.trimEnd());
  });

  it("carries the event ids of every merged row on the digest", () => {
    const [unit] = packDigests(rows(3), "robot-a", () => 4096, render);
    expect(unit!.coalesced).toBe(true);
    expect(unit!.message.eventIds).toEqual(["event-0", "event-1", "event-2"]);
    expect(unit!.message.summary).toBe("digest of 3 notifications");
  });

  it("sends a lone row as its original message, not as a digest of one", () => {
    const input = rows(1);
    const [unit] = packDigests(input, "robot-a", () => 4096, render);
    expect(unit).toEqual({ message: input[0]!.message, rowIds: ["row-0"], coalesced: false });
  });

  it("sends a row whose summary cannot fit any digest as its own message", () => {
    const input = rows(3);
    input[1]!.message.summary = "x".repeat(5000);
    const units = packDigests(input, "robot-a", () => 1024, render);
    expect(units.map((u) => u.rowIds)).toEqual([["row-0"], ["row-1"], ["row-2"]]);
    expect(units[1]!.message).toBe(input[1]!.message);
  });

  it("keeps text mentions of merged rows and uses the most common receiver", () => {
    const input = [
      ...rows(2, { msgtype: "text", mention: ["zhangsan"], receiver: "dev" }),
      ...rows(1, { msgtype: "text", mention: ["lisi"], receiver: "sre" }),
    ].map((row, i) => ({ ...row, id: `r${i}` }));
    const [unit] = packDigests(input, "robot-a", () => 4096, render);
    expect(unit!.message.mention.sort()).toEqual(["lisi", "zhangsan"]);
    expect(unit!.message.receiver).toBe("dev");
    expect(unit!.message.msgtype).toBe("text");
  });
});

describe("linear packing", () => {
  it("renders each row's line once and each digest once, however many rows it carries", () => {
    let renders = 0;
    const counting: DigestRenderer = (items, context) => {
      renders += 1;
      return render(items, context);
    };
    const units = packDigests(rows(2000), "robot-a", () => 4096, counting);
    // Per row: one single-item render. Per digest: its empty form (overhead) and itself.
    expect(renders).toBeLessThanOrEqual(2000 + units.length * 3);
    expect(units.flatMap((u) => u.rowIds)).toHaveLength(2000);
  });
});

describe("digest items", () => {
  it("lists a split message once, though every part's row is carried", () => {
    const parts = [0, 1, 2].map((i) => ({ id: `part-${i}`, createdAt: 5000, message: message({ summary: "[FIRING:40] Big", eventIds: ["big"] }) }));
    const other = { id: "other", createdAt: 6000, message: message({ summary: "[FIRING:1] Small", eventIds: ["small"] }) };
    const [unit] = packDigests([...parts, other], "robot-a", () => 4096, render);
    expect(unit!.rowIds).toEqual(["part-0", "part-1", "part-2", "other"]);
    expect(unit!.message.content.match(/Big/g)).toHaveLength(1);
    expect(unit!.message.content).toContain("2 notifications");
  });

  it("lists two notifications with the same title stored in the same millisecond, and counts both", () => {
    // One alert on two instances, sent by Alertmanager in one flush: same title, same arrival.
    const twins = ["node-1", "node-2"].map((node, i) => ({
      id: `twin-${i}`,
      createdAt: 7000,
      message: message({ summary: "[FIRING:1] DiskFull", eventIds: [`disk-${node}`] }),
    }));
    const [unit] = packDigests([...twins, { id: "x", createdAt: 7001, message: message({ eventIds: ["x"] }) }], "robot-a", () => 4096, render);
    expect(unit!.message.content.match(/DiskFull/g)).toHaveLength(2);
    expect(unit!.message.content).toContain("3 notifications");
  });
});

describe("digest format", () => {
  const limits = (msgtype: string) => (msgtype === "text" ? 300 : 3000);

  it("uses the byte limit of the digest's own type when a backlog mixes text and markdown", () => {
    const input = [
      ...rows(1, { msgtype: "markdown" }),
      ...rows(40, { msgtype: "text" }).map((row, i) => ({ ...row, id: `t${i}` })),
    ];
    const units = packDigests(input, "robot-a", limits, render);
    for (const unit of units) {
      expect(Buffer.byteLength(unit.message.content)).toBeLessThanOrEqual(limits(unit.message.msgtype));
    }
    expect(units.flatMap((unit) => unit.rowIds)).toEqual(input.map((row) => row.id));
  });

  it("sends a digest as text carrying every mention, even @all from a markdown-heavy backlog", () => {
    const input = [
      ...rows(3, { msgtype: "markdown" }),
      ...rows(1, { msgtype: "markdown", mention: ["zhangsan"] }).map((row) => ({ ...row, id: "m" })),
      ...rows(1, { msgtype: "text", mention: ["@all"] }).map((row) => ({ ...row, id: "a" })),
    ];
    const [unit] = packDigests(input, "robot-a", limits, render);
    expect(unit!.message.msgtype).toBe("text");
    expect(unit!.message.mention.sort()).toEqual(["@all", "zhangsan"]);
  });
});
