// One contract, two drivers: every test here runs against SQLite and against a real
// PostgreSQL server started for the run.
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ActionGroup } from "../../src/actions/group.js";
import type { ActionRecord } from "../../src/outbox/action-log.js";
import type { Store } from "../../src/outbox/contract.js";
import { PostgresStore } from "../../src/outbox/postgres.js";
import { SqliteStore } from "../../src/outbox/sqlite.js";
import { message } from "../support/messages.js";
import { postgresForThisFile, postgresUnavailable } from "../support/postgres.js";
import { tempDir } from "../support/tmp.js";

interface Driver {
  name: string;
  /** A fresh, empty store. */
  create(): Promise<Store>;
  /** Another handle on the same data, after the first was closed: a restart. */
  again(): Promise<Store>;
  /** What a second replica writes through: its own handle, or (one process per SQLite file) the same one. */
  peer(store: Store): Promise<Store | undefined>;
  cleanup(): Promise<void>;
}

function sqliteDriver(): Driver {
  let tmp: ReturnType<typeof tempDir> | undefined;
  return {
    name: "sqlite",
    create: async () => {
      tmp = tempDir();
      return SqliteStore.open(tmp.dir);
    },
    again: async () => SqliteStore.open(tmp!.dir),
    peer: async () => undefined,
    cleanup: async () => tmp?.remove(),
  };
}

const pgMissing = postgresUnavailable();

function postgresDriver(): Driver {
  let url: string | undefined;
  return {
    name: "postgres",
    create: async () => {
      url = await server()!.createDatabase();
      return PostgresStore.open({ url });
    },
    again: async () => PostgresStore.open({ url: url! }),
    peer: async () => PostgresStore.open({ url: url! }),
    cleanup: async () => undefined,
  };
}

const server = postgresForThisFile();

const drivers: Driver[] = [sqliteDriver(), ...(pgMissing === undefined ? [postgresDriver()] : [])];
const rate = { spacingMs: 1000, max: 3, perMs: 10_000 };

describe.each(drivers)("Store contract: $name", (driver) => {
  let store: Store;
  const others: Store[] = [];

  beforeEach(async () => {
    store = await driver.create();
  });
  afterEach(async () => {
    for (const other of others.splice(0)) await other.close();
    await store.close();
    await driver.cleanup();
  });

  const second = async () => {
    const other = await driver.peer(store);
    if (other === undefined) return store;
    others.push(other);
    return other;
  };
  const one = async (messages = [message()], now = 1000, extra = {}) => (await store.accept([{ messages, ...extra }], now))[0]!;

  it("writes a request with its messages, each queued and due from the start", async () => {
    const accepted = await one([message(), message({ target: "robot-b" })]);
    expect(accepted.duplicate).toBe(false);
    expect(accepted.deliveryIds).toHaveLength(2);
    const status = await store.requestStatus(accepted.requestId);
    expect(status).toMatchObject({ id: accepted.requestId, state: "queued", createdAt: 1000 });
    expect(status!.deliveries.map((d) => d.message.target).sort()).toEqual(["robot-a", "robot-b"]);
    expect(await store.get(accepted.deliveryIds[0]!)).toMatchObject({ state: "queued", attempts: 0, createdAt: 1000, nextAttemptAt: 1000 });
    // Found by a delivery id too.
    expect((await store.requestStatus(accepted.deliveryIds[1]!))?.id).toBe(accepted.requestId);
    expect(await store.requestStatus("nope")).toBeUndefined();
  });

  it("keeps each message's trace with its row, for every read (due, status, dead letters)", async () => {
    const trace = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true };
    const { requestId, deliveryIds } = await one([message({ trace }), message({ target: "robot-b" })]);
    const [traced] = await store.due("robot-a", 1000, 10);
    expect(traced!.message.trace).toEqual(trace);
    expect((await store.due("robot-b", 1000, 10))[0]!.message.trace).toBeUndefined();
    expect((await store.requestStatus(requestId))!.deliveries.find((d) => d.id === deliveryIds[0])!.message.trace).toEqual(trace);
    await store.markDead([deliveryIds[0]!], "permanent");
    expect((await store.listDead(10))[0]!.message.trace).toEqual(trace);
  });

  it("keeps queued rows for the next open of the same data", async () => {
    const { deliveryIds } = await one();
    await store.close();
    store = await driver.again();
    expect(await store.queuedTargets()).toEqual(["robot-a"]);
    expect((await store.get(deliveryIds[0]!))?.state).toBe("queued");
  });

  it("accepts an idempotency key once, answering the first request's id", async () => {
    const first = await one([message()], 1000, { idempotencyKey: "github:abc" });
    const again = await one([message()], 2000, { idempotencyKey: "github:abc" });
    expect(again).toEqual({ requestId: first.requestId, deliveryIds: [], duplicate: true });
    expect(await store.depthByTarget()).toEqual(new Map([["robot-a", 1]]));
  });

  it("treats a key as new once its window has passed", async () => {
    const first = await one([message()], 1000, { idempotencyKey: "am:x", idempotencyUntil: 5000 });
    expect((await one([message()], 4999, { idempotencyKey: "am:x" })).duplicate).toBe(true);
    const later = await one([message()], 5000, { idempotencyKey: "am:x", idempotencyUntil: 9000 });
    expect(later.duplicate).toBe(false);
    expect(later.requestId).not.toBe(first.requestId);
  });

  it("accepts the same key once when two handles write it at the same moment", async () => {
    const other = await second();
    const results = await Promise.all([
      store.accept([{ messages: [message()], idempotencyKey: "github:race" }], 1000),
      other.accept([{ messages: [message()], idempotencyKey: "github:race" }], 1000),
    ]);
    expect(results.flat().filter((r) => !r.duplicate)).toHaveLength(1);
    expect((await store.depthByTarget()).get("robot-a")).toBe(1);
  });

  it("commits several requests in one call, each whole", async () => {
    const results = await store.accept(
      [{ messages: [message()] }, { messages: [message(), message()], idempotencyKey: "k" }, { messages: [message()], idempotencyKey: "k" }],
      1000,
    );
    expect(results.map((r) => r.deliveryIds.length)).toEqual([1, 2, 0]);
    expect(results[2]!.duplicate).toBe(true);
  });

  it("reads due rows a page at a time, in the order they became due, for the asked target only", async () => {
    for (let i = 0; i < 5; i++) await one([message({ content: `m${i}` })], 1000 + i);
    await one([message({ target: "robot-b" })], 500);
    const first = await store.due("robot-a", 10_000, 2);
    expect(first.map((d) => d.message.content)).toEqual(["m0", "m1"]);
    const last = first.at(-1)!;
    const next = await store.due("robot-a", 10_000, 10, { at: last.nextAttemptAt, id: last.id });
    expect(next.map((d) => d.message.content)).toEqual(["m2", "m3", "m4"]);
    expect((await store.due("robot-a", 1002, 10)).map((d) => d.message.content)).toEqual(["m0", "m1", "m2"]);
    expect(await store.dueCount("robot-a", 10_000, 3)).toBe(3);
    expect(await store.dueCount("robot-a", 10_000, 100)).toBe(5);
  });

  it("moves a row through retry to sent, counting attempts and clearing the earlier error", async () => {
    const [id] = (await one()).deliveryIds;
    await store.markRetry([id!], 9000, "errcode -1: system busy");
    expect(await store.due("robot-a", 5000, 10)).toHaveLength(0);
    expect(await store.nextDueAt("robot-a")).toBe(9000);
    expect(await store.get(id!)).toMatchObject({ attempts: 1, lastError: "errcode -1: system busy" });
    await store.markSent([id!], 9500);
    const row = (await store.get(id!))!;
    expect(row).toMatchObject({ state: "sent", attempts: 2, sentAt: 9500 });
    expect(row.lastError).toBeUndefined();
    expect(await store.nextDueAt("robot-a")).toBeUndefined();
    expect((await store.requestStatus(id!))?.state).toBe("sent");
  });

  it("makes a target's waiting retries due at once, and only that target's", async () => {
    const a = (await one([message(), message()], 1000)).deliveryIds;
    const b = (await one([message({ target: "robot-b" })], 1000)).deliveryIds;
    await store.markRetry(a, 60_000, "HTTP 502");
    await store.markRetry(b, 60_000, "HTTP 502");
    expect(await store.expedite("robot-a", 5000)).toBe(2);
    expect((await store.due("robot-a", 5000, 10)).map((d) => d.id).sort()).toEqual([...a].sort());
    expect(await store.due("robot-b", 5000, 10)).toEqual([]);
    expect(await store.expedite("robot-a", 5000)).toBe(0);
  });

  it("marks a whole unit in one update, and leaves rows that are no longer queued alone", async () => {
    const { deliveryIds } = await one([message(), message(), message()]);
    expect(await store.markDead([deliveryIds[0]!], "errcode 93000")).toEqual([deliveryIds[0]]);
    // Only the rows this update finished are answered: what the delivered and dead-letter counts add.
    expect((await store.markSent(deliveryIds, 2000)).sort()).toEqual(deliveryIds.slice(1).sort());
    expect(await store.markSent(deliveryIds, 2001)).toEqual([]);
    expect(await store.markDead(deliveryIds, "late")).toEqual([]);
    const states = await Promise.all(deliveryIds.map(async (id) => (await store.get(id))?.state));
    expect(states).toEqual(["dead", "sent", "sent"]);
  });

  it("reports each target's queue: how many, how many wait for a retry, and when the oldest was queued", async () => {
    expect(await store.queueStats(1000)).toEqual(new Map());
    const a = (await one([message(), message()], 1000)).deliveryIds;
    await one([message()], 3000);
    await one([message({ target: "robot-b" })], 2000);
    await store.markRetry([a[1]!], 60_000, "HTTP 502");
    expect(await store.queueStats(5000)).toEqual(
      new Map([
        ["robot-a", { queued: 3, waitingRetry: 1, oldestCreatedAt: 1000 }],
        ["robot-b", { queued: 1, waitingRetry: 0, oldestCreatedAt: 2000 }],
      ]),
    );
    // The oldest sent: the next one is the oldest now; a target with nothing queued is left out.
    await store.markSent([a[0]!], 6000);
    await store.markSent([a[1]!], 6000);
    const b = await store.due("robot-b", 7000, 1);
    await store.markDead([b[0]!.id], "gone");
    expect(await store.queueStats(7000)).toEqual(new Map([["robot-a", { queued: 1, waitingRetry: 0, oldestCreatedAt: 3000 }]]));
  });

  it("reports the space it takes on disk, growing as it holds more", async () => {
    const before = await store.sizeBytes();
    expect(before).toBeGreaterThan(0);
    await one(Array.from({ length: 200 }, (_, i) => message({ content: `${"x".repeat(2000)} ${i}` })));
    expect(await store.sizeBytes()).toBeGreaterThan(before);
  });

  it("lists dead letters newest first and requeues them with their age reset", async () => {
    const a = (await one([message()], 1000)).deliveryIds[0]!;
    const b = (await one([message({ target: "robot-b" })], 2000)).deliveryIds[0]!;
    await store.markDead([a, b], "errcode 93000: invalid webhook url");
    expect((await store.listDead(10)).map((d) => d.id)).toEqual([b, a]);
    expect((await store.requestStatus(a))?.state).toBe("failed");
    const requeued = await store.requeue([a, "unknown"], 50_000);
    expect(requeued).toEqual([{ id: a, target: "robot-a" }]);
    expect(await store.get(a)).toMatchObject({ state: "queued", createdAt: 50_000, nextAttemptAt: 50_000 });
    expect(await store.requeue([a], 60_000)).toEqual([]);
  });

  it("counts queued rows per target", async () => {
    await one([message(), message(), message({ target: "robot-b" })]);
    expect(await store.depthByTarget()).toEqual(new Map([["robot-a", 2], ["robot-b", 1]]));
    expect((await store.queuedTargets()).sort()).toEqual(["robot-a", "robot-b"]);
  });

  it("keeps the depth exact through duplicates, sends, dead letters and requeues, and after a reopen", async () => {
    const { deliveryIds } = await one([message(), message(), message(), message({ target: "robot-b" })], 1000, { idempotencyKey: "k" });
    await one([message()], 1000, { idempotencyKey: "k" }); // a duplicate adds nothing
    await store.markSent([deliveryIds[0]!], 2000);
    await store.markSent([deliveryIds[0]!], 2001); // already sent: no change
    await store.markDead([deliveryIds[1]!, deliveryIds[3]!], "gone");
    await store.markRetry([deliveryIds[2]!], 9000, "busy");
    expect(await store.depthByTarget()).toEqual(new Map([["robot-a", 1]]));
    await store.requeue([deliveryIds[3]!], 3000);
    expect(await store.depthByTarget()).toEqual(new Map([["robot-a", 1], ["robot-b", 1]]));
    await store.close();
    store = await driver.again();
    expect(await store.depthByTarget()).toEqual(new Map([["robot-a", 1], ["robot-b", 1]]));
  });

  it("gives a target's lease to one holder until it expires or is released", async () => {
    const other = await second();
    expect(await store.claim("robot-a", "replica-1", 1000, 10_000)).toBe(true);
    expect(await other.claim("robot-a", "replica-2", 5000, 10_000)).toBe(false);
    expect(await store.claim("robot-a", "replica-1", 8000, 10_000)).toBe(true); // renewed until 18000
    expect(await other.claim("robot-a", "replica-2", 17_000, 10_000)).toBe(false);
    expect(await other.claim("robot-a", "replica-2", 18_001, 10_000)).toBe(true);
    await other.release(["robot-a"], "replica-2");
    expect(await store.claim("robot-a", "replica-1", 18_002, 10_000)).toBe(true);
    // Releasing someone else's lease does nothing.
    await other.release(["robot-a"], "replica-2");
    expect(await other.claim("robot-a", "replica-2", 18_003, 10_000)).toBe(false);
  });

  it("spaces pace slots and keeps at most max in any window", async () => {
    const slots = [];
    for (let i = 0; i < 5; i++) slots.push(await store.takeSlot("robot:x", 0, rate));
    expect(slots).toEqual([0, 1000, 2000, 10_000, 11_000]);
    // Another key has its own pace.
    expect(await store.takeSlot("robot:y", 0, rate)).toBe(0);
  });

  it("counts the slots taken before a rate was lowered against the new rate", async () => {
    const fast = { spacingMs: 100, max: 20, perMs: 10_000 };
    for (let i = 0; i < 10; i++) await store.takeSlot("robot:x", i * 100, fast);
    // Lowered to 5 per 10 s: the 5th-last slot (500) plus the window.
    expect(await store.takeSlot("robot:x", 1000, { spacingMs: 2000, max: 5, perMs: 10_000 })).toBe(10_500);
  });

  it("holds every slot on a paused key until the pause ends", async () => {
    await store.pauseKey("robot:x", 60_000);
    expect(await store.pausedUntil("robot:x")).toBe(60_000);
    expect(await store.takeSlot("robot:x", 1000, rate)).toBe(60_000);
    await store.pauseKey("robot:x", 30_000); // a shorter pause does not shorten it
    expect(await store.pausedUntil("robot:x")).toBe(60_000);
    expect(await store.pausedUntil("robot:unknown")).toBeUndefined();
  });

  it("shares one pace across handles: slots taken at once are still spaced", async () => {
    const other = await second();
    const slots = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? other : store).takeSlot("robot:shared", 0, rate)));
    const sorted = [...slots].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(1000);
    for (let i = 3; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 3]!).toBeGreaterThanOrEqual(10_000);
  });

  it("purges finished rows older than the cut-off, a chunk at a time, and never queued ones", async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await one([message()], 1000 + i)).deliveryIds[0]!);
    const queued = (await one([message()], 1000)).deliveryIds[0]!;
    await store.markSent(ids.slice(0, 4), 2000);
    await store.markDead([ids[4]!], "gone");
    expect(await store.purge(10_000, 3)).toBe(3);
    expect(await store.purge(10_000, 3)).toBe(2);
    expect(await store.purge(10_000, 3)).toBe(0);
    expect((await store.get(queued))?.state).toBe("queued");
    for (const id of ids) expect(await store.get(id)).toBeUndefined();
  });

  describe("browsing, for the console", () => {
    it("pages through deliveries newest first, filtered by state, target and time", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await one([message({ target: i % 2 === 0 ? "robot-a" : "robot-b", summary: `n${i}` })], 1000 + i)).deliveryIds[0]!);
      await store.markDead([ids[1]!], "errcode 93000: invalid webhook url");
      const first = await store.browse({ limit: 2 });
      expect(first.map((d) => d.message.summary)).toEqual(["n4", "n3"]);
      const next = await store.browse({ limit: 2, before: first.at(-1)!.id });
      expect(next.map((d) => d.message.summary)).toEqual(["n2", "n1"]);
      expect((await store.browse({ limit: 10, target: "robot-a" })).map((d) => d.message.summary)).toEqual(["n4", "n2", "n0"]);
      expect((await store.browse({ limit: 10, state: "dead" })).map((d) => d.id)).toEqual([ids[1]]);
      expect((await store.browse({ limit: 10, since: 1001, until: 1003 })).map((d) => d.message.summary)).toEqual(["n2", "n1"]);
      expect(await store.listDead(10, "robot-a")).toEqual([]);
      expect((await store.listDead(10, "robot-b")).map((d) => d.id)).toEqual([ids[1]]);
    });

    it("reports a target's last send and latest error", async () => {
      expect(await store.targetActivity("robot-a")).toEqual({});
      const [sent, retrying, dead] = [(await one()).deliveryIds[0]!, (await one()).deliveryIds[0]!, (await one()).deliveryIds[0]!];
      await store.markSent([sent], 5000);
      await store.markRetry([retrying], 9000, "HTTP 502 from qyapi.weixin.qq.com");
      expect(await store.targetActivity("robot-a")).toEqual({ lastSentAt: 5000, lastError: { error: "HTTP 502 from qyapi.weixin.qq.com", at: 9000 } });
      await store.markDead([dead], "errcode 93000: invalid webhook url");
      expect((await store.targetActivity("robot-a")).lastError?.error).toBe("HTTP 502 from qyapi.weixin.qq.com");
      expect(await store.targetActivity("robot-b")).toEqual({});
    });
  });

  describe("action log", () => {
    const group = (status: "firing" | "resolved" = "firing"): ActionGroup => ({
      id: "gAbc123",
      source: "alertmanager",
      status,
      title: "[FIRING:1] DiskFull",
      matchers: { alertname: "DiskFull" },
      alerts: [{ name: "DiskFull", status, labels: { alertname: "DiskFull", instance: "node-1" } }],
    });
    const action = (id: string, at: number, extra: Partial<ActionRecord> = {}): Omit<ActionRecord, "result"> => ({
      id,
      group: "gAbc123",
      action: "silence",
      via: "card",
      by: "zhangsan",
      at,
      ...extra,
    });

    it("keeps an accepted request's groups at their latest state, and none of a duplicate", async () => {
      await one([message()], 1000, { groups: [group("firing")], idempotencyKey: "k" });
      await one([message()], 2000, { groups: [group("resolved")] });
      expect(await store.actions.group("gAbc123")).toMatchObject({ group: { status: "resolved", matchers: { alertname: "DiskFull" } }, updatedAt: 2000 });
      await one([message()], 3000, { groups: [{ ...group("firing"), id: "gOther" }], idempotencyKey: "k" });
      expect(await store.actions.group("gOther")).toBeUndefined();
    });

    it("uses a card's response_code once, from any replica", async () => {
      await store.actions.saveCard({ taskId: "t1", group: "gAbc123", target: "app", responseCode: "rc-1", sentAt: 1000 });
      const other = await second();
      expect(await store.actions.card("t1")).toMatchObject({ responseCode: "rc-1", codeUsed: false });
      expect(await store.actions.cardsOf("gAbc123")).toHaveLength(1);
      expect(await other.actions.useCardCode("t1")).toBe(true);
      expect(await store.actions.useCardCode("t1")).toBe(false);
      expect(await store.actions.useCardCode("unknown")).toBe(false);
    });

    it("begins an action once per key, so a retried callback acts once on any replica", async () => {
      expect(await store.actions.begin(action("a1", 1000), "click:u:1")).toBe(true);
      const other = await second();
      expect(await other.actions.begin(action("a2", 1001), "click:u:1")).toBe(false);
      expect(await store.actions.begin(action("a3", 1002))).toBe(true);
      expect(await store.actions.begin(action("a4", 1003))).toBe(true);
      await store.actions.finish("a1", { result: "ok", silenceId: "s-1", until: 5000 });
      const listed = await store.actions.list(10);
      expect(listed.map((record) => record.id)).toEqual(["a4", "a3", "a1"]);
      expect(listed[2]).toMatchObject({ result: "ok", silenceId: "s-1", until: 5000, by: "zhangsan", via: "card" });
      expect(await store.actions.list(10, "gOther")).toEqual([]);
    });

    it("reports the group's silence while it is in force and not lifted", async () => {
      await store.actions.begin(action("a1", 1000));
      await store.actions.finish("a1", { result: "ok", silenceId: "s-1", until: 5000 });
      expect((await store.actions.activeSilence("gAbc123", 2000))?.silenceId).toBe("s-1");
      expect(await store.actions.activeSilence("gAbc123", 5000)).toBeUndefined();
      await store.actions.begin(action("a2", 3000, { action: "unsilence" }));
      await store.actions.finish("a2", { result: "ok" });
      expect(await store.actions.activeSilence("gAbc123", 3500)).toBeUndefined();
      await store.actions.begin(action("a3", 3600));
      await store.actions.finish("a3", { result: "failed", detail: "Alertmanager answered 500" });
      expect(await store.actions.activeSilence("gAbc123", 3700)).toBeUndefined();
    });

    it("purges groups, cards and actions older than the cut-off", async () => {
      await one([message()], 1000, { groups: [group()] });
      await store.actions.saveCard({ taskId: "t1", group: "gAbc123", target: "app", responseCode: "rc", sentAt: 1000 });
      await store.actions.begin(action("a1", 1000));
      await store.purge(20_000, 100);
      expect(await store.actions.group("gAbc123")).toBeUndefined();
      expect(await store.actions.card("t1")).toBeUndefined();
      expect(await store.actions.list(10)).toEqual([]);
    });
  });
});

describe("SQLite data dir", () => {
  it("creates the outbox readable by its owner only", async () => {
    const tmp = tempDir();
    const store = SqliteStore.open(join(tmp.dir, "data"));
    try {
      expect(statSync(join(tmp.dir, "data", "outbox.db")).mode & 0o777).toBe(0o600);
      expect(statSync(join(tmp.dir, "data")).mode & 0o777).toBe(0o700);
    } finally {
      await store.close();
      tmp.remove();
    }
  });

  it("refuses a second opener with a clear reason while the first holds it", () => {
    const tmp = tempDir();
    const first = SqliteStore.open(tmp.dir);
    try {
      expect(() => SqliteStore.open(tmp.dir)).toThrow(/another wecom-relay process is using .*outbox\.db: one process per data dir/);
    } finally {
      void first.close();
      tmp.remove();
    }
  });
});
