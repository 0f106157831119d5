import { describe, expect, it } from "vitest";
import type { BrowseQuery, StoredDelivery } from "../../src/outbox/contract.js";
import { MAX_EXAMINED, PAGE_SIZE, searchMessages } from "../../src/web/message-search.js";
import { message } from "../support/messages.js";

/** An outbox of `count` deliveries, newest last; browse() answers as the Store does (newest first, after the cursor). */
function outbox(count: number, alertOf: (i: number) => string) {
  const rows: StoredDelivery[] = Array.from({ length: count }, (_, i) => ({
    id: `d${String(i).padStart(6, "0")}`,
    requestId: `r${i}`,
    message: message({ summary: `[FIRING:1] ${alertOf(i)}`, labels: { source: "alertmanager", alertname: alertOf(i), team: i % 2 === 0 ? "db" : "web" } }),
    state: "sent",
    attempts: 1,
    createdAt: 1000 + i,
    nextAttemptAt: 1000 + i,
  }));
  const reads: number[] = [];
  return {
    reads,
    browse: async (query: BrowseQuery) => {
      const older = rows.filter((row) => query.before === undefined || row.id < query.before).reverse();
      const page = older.slice(0, query.limit);
      reads.push(page.length);
      return page;
    },
  };
}

describe("searchMessages", () => {
  it("answers a page of matches newest first, with the cursor of the next page", async () => {
    const store = outbox(300, (i) => (i % 3 === 0 ? "DiskFull" : "CpuHigh"));
    const page = await searchMessages(store, { alert: "disk" });
    expect(page.messages).toHaveLength(PAGE_SIZE);
    expect(page.messages[0]!.id).toBe("d000297");
    expect(page.messages.every((d) => d.message.labels?.alertname === "DiskFull")).toBe(true);
    const next = await searchMessages(store, { alert: "disk", before: page.next! });
    expect(next.messages[0]!.id < page.messages.at(-1)!.id).toBe(true);
  });

  it("looks at a bounded number of rows for a rare match, and says where to go on", async () => {
    const store = outbox(10_000, (i) => (i === 10 ? "RareAlert" : "Common"));
    const first = await searchMessages(store, { alert: "rare" });
    expect(first.messages).toEqual([]);
    expect(first.examined).toBe(MAX_EXAMINED);
    expect(store.reads.reduce((a, b) => a + b, 0)).toBe(MAX_EXAMINED);
    let page = first;
    while (page.messages.length === 0 && page.next !== undefined) page = await searchMessages(store, { alert: "rare", before: page.next });
    expect(page.messages.map((d) => d.message.labels?.alertname)).toEqual(["RareAlert"]);
  });

  it("filters by an exact label and by source", async () => {
    const store = outbox(20, () => "DiskFull");
    expect((await searchMessages(store, { label: { name: "team", value: "web" } })).messages).toHaveLength(10);
    expect((await searchMessages(store, { source: "github" })).messages).toEqual([]);
    expect((await searchMessages(store, { source: "alertmanager" })).next).toBeUndefined();
  });
});
