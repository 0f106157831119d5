// The gauges read at scrape time, from a real SQLite outbox: each target's queue, how
// long its oldest message has waited, a 45009 pause, and an app's token.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Channel } from "../src/channels/channel.js";
import type { TargetRuntime } from "../src/delivery/target-worker.js";
import { refreshGauges } from "../src/metric-gauges.js";
import { createMetrics, type Metrics } from "../src/metrics.js";
import { SqliteStore } from "../src/outbox/sqlite.js";
import { message } from "./support/messages.js";
import { tempDir } from "./support/tmp.js";

const robot: Channel = { kind: "robot", send: async () => ({ kind: "ok" }) };
const app: Channel = { ...robot, kind: "app", tokenState: () => ({ expiresAt: 7_200_000, backoffUntil: 0 }) };
const runtime = (channel: Channel, paceKey: string): TargetRuntime => ({ channel, rateLimit: { max: 20, per: 60_000 }, paceKey, byteLimit: () => 4096 });

async function gauge(metrics: Metrics, name: "outboxDepth" | "outboxWaitingRetry" | "outboxOldestAge" | "pausedUntil" | "tokenExpiry" | "tokenBackoffUntil", target: string) {
  return (await metrics[name].get()).values.find((v) => v.labels.target === target)?.value;
}

describe("gauges read at scrape time", () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let metrics: Metrics;

  beforeEach(() => {
    tmp = tempDir();
    store = SqliteStore.open(tmp.dir);
    metrics = createMetrics();
  });
  afterEach(async () => {
    await store.close();
    tmp.remove();
  });

  it("shows each target's queue, what waits for a retry, the oldest message's age, a pause and an app token", async () => {
    const [first, second] = (await store.accept([{ messages: [message(), message()] }], 1_000_000))[0]!.deliveryIds;
    await store.accept([{ messages: [message()] }], 1_030_000);
    await store.markRetry([second!], 1_200_000, "HTTP 502");
    await store.pauseKey("robot:a", 1_090_000);
    const targets = new Map([
      ["robot-a", runtime(robot, "robot:a")],
      ["quiet", runtime(robot, "robot:q")],
      ["ops-app", runtime(app, "app:ops-app")],
    ]);

    await refreshGauges(metrics, store, targets, 1_060_000);
    expect(await gauge(metrics, "outboxDepth", "robot-a")).toBe(3);
    expect(await gauge(metrics, "outboxWaitingRetry", "robot-a")).toBe(1);
    expect(await gauge(metrics, "outboxOldestAge", "robot-a")).toBe(60);
    expect(await gauge(metrics, "pausedUntil", "robot-a")).toBe(1090);
    // A configured target with nothing queued and never paused shows 0, not nothing.
    expect(await gauge(metrics, "outboxDepth", "quiet")).toBe(0);
    expect(await gauge(metrics, "outboxOldestAge", "quiet")).toBe(0);
    expect(await gauge(metrics, "pausedUntil", "quiet")).toBe(0);
    expect(await gauge(metrics, "tokenExpiry", "ops-app")).toBe(7200);
    expect(await gauge(metrics, "tokenBackoffUntil", "ops-app")).toBe(0);
    expect(await gauge(metrics, "tokenExpiry", "robot-a")).toBeUndefined();
    expect((await metrics.outboxSize.get()).values[0]?.value).toBeGreaterThan(0);

    // The oldest is delivered: the age is the next one's.
    await store.markSent([first!], 1_070_000);
    await refreshGauges(metrics, store, targets, 1_070_000);
    expect(await gauge(metrics, "outboxOldestAge", "robot-a")).toBe(70);
    expect(await gauge(metrics, "outboxDepth", "robot-a")).toBe(2);
  });

  it("keeps showing a queue whose target left the config, and drops a target's gauges once it is gone", async () => {
    await store.accept([{ messages: [message({ target: "removed" })] }], 1_000_000);
    await refreshGauges(metrics, store, new Map([["robot-a", runtime(robot, "robot:a")]]), 1_005_000);
    expect(await gauge(metrics, "outboxDepth", "removed")).toBe(1);
    expect(await gauge(metrics, "outboxOldestAge", "removed")).toBe(5);
    await refreshGauges(metrics, store, new Map(), 1_005_000);
    expect(await gauge(metrics, "pausedUntil", "robot-a")).toBeUndefined();
  });
});
