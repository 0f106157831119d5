import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { OutboxStore } from "../../src/outbox/store.js";
import { message } from "../support/messages.js";
import { tempDir } from "../support/tmp.js";

describe("outbox store", () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: OutboxStore;

  beforeEach(() => {
    tmp = tempDir();
    store = OutboxStore.open(tmp.dir);
  });
  afterEach(() => {
    store.close();
    tmp.remove();
  });

  it("keeps queued rows across a reopen of the same data dir", () => {
    const { deliveryIds } = store.enqueue([message(), message({ target: "robot-b" })], { now: 1000 });
    store.close();
    store = OutboxStore.open(tmp.dir);
    expect(store.queuedTargets().sort()).toEqual(["robot-a", "robot-b"]);
    expect(store.get(deliveryIds[0]!)?.message.content).toBe("**FIRING** HighLatency");
    expect(store.get(deliveryIds[0]!)?.state).toBe("queued");
  });

  it("returns due rows oldest first, only for the asked target and time", () => {
    store.enqueue([message({ content: "first" })], { now: 1000 });
    store.enqueue([message({ content: "second" })], { now: 2000 });
    store.enqueue([message({ target: "robot-b", content: "other" })], { now: 500 });
    expect(store.due("robot-a", 5000, 10).map((d) => d.message.content)).toEqual(["first", "second"]);
    expect(store.due("robot-a", 1500, 10).map((d) => d.message.content)).toEqual(["first"]);
    expect(store.dueCount("robot-a", 5000)).toBe(2);
  });

  it("moves a row through retry to sent and counts attempts", () => {
    const [id] = store.enqueue([message()], { now: 1000 }).deliveryIds;
    store.markRetry(id!, 9000, "errcode -1: system busy");
    expect(store.due("robot-a", 5000, 10)).toHaveLength(0);
    expect(store.nextDueAt("robot-a")).toBe(9000);
    store.markSent([id!], 9500);
    const row = store.get(id!)!;
    expect(row).toMatchObject({ state: "sent", attempts: 2, sentAt: 9500 });
    // The earlier attempt's error no longer describes a delivered message.
    expect(row.lastError).toBeUndefined();
    expect(store.queuedTargets()).toEqual([]);
  });

  it("lists dead letters and requeues them with their age reset", () => {
    const [id] = store.enqueue([message()], { now: 1000 }).deliveryIds;
    store.markDead([id!], "errcode 93000: invalid webhook url");
    expect(store.listDead(10).map((d) => d.id)).toEqual([id]);
    expect(store.requeue(id!, 50_000)).toBe(true);
    expect(store.get(id!)).toMatchObject({ state: "queued", createdAt: 50_000 });
    expect(store.requeue(id!, 60_000)).toBe(false);
  });

  it("never moves a sent row back to dead or retry", () => {
    const [id] = store.enqueue([message()], { now: 1000 }).deliveryIds;
    store.markSent([id!], 2000);
    store.markDead([id!], "late failure");
    store.markRetry(id!, 3000, "late retry");
    expect(store.get(id!)).toMatchObject({ state: "sent", attempts: 1 });
  });

  it("writes nothing for a repeated idempotency key and returns the first request id", () => {
    const first = store.enqueue([message()], { idempotencyKey: "abc" });
    const second = store.enqueue([message(), message()], { idempotencyKey: "abc" });
    expect(second).toEqual({ requestId: first.requestId, deliveryIds: [], duplicate: true });
    expect(store.dueCount("robot-a", Date.now() + 1)).toBe(1);
  });

  it("reports a request queued until every part is sent, and failed if any part died", () => {
    const { requestId, deliveryIds } = store.enqueue([message(), message({ target: "robot-b" })]);
    expect(store.requestStatus(requestId)?.state).toBe("queued");
    store.markSent([deliveryIds[0]!], Date.now());
    expect(store.requestStatus(requestId)?.state).toBe("queued");
    store.markDead([deliveryIds[1]!], "gone");
    expect(store.requestStatus(requestId)?.state).toBe("failed");
    expect(store.requestStatus(deliveryIds[0]!)?.id).toBe(requestId);
    expect(store.requestStatus("no-such-id")).toBeUndefined();
  });

  it("reports depth per target from queued rows only", () => {
    const ids = store.enqueue([message(), message(), message({ target: "robot-b" })]).deliveryIds;
    store.markSent([ids[0]!], Date.now());
    expect(Object.fromEntries(store.depthByTarget())).toEqual({ "robot-a": 1, "robot-b": 1 });
  });

  it("purges old finished rows but never queued ones", () => {
    const ids = store.enqueue([message(), message()], { now: 1000 }).deliveryIds;
    store.markSent([ids[0]!], 2000);
    expect(store.purge(5000)).toBe(1);
    expect(store.get(ids[0]!)).toBeUndefined();
    expect(store.get(ids[1]!)?.state).toBe("queued");
  });
});
