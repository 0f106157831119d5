// Each message is counted once in its final state (delivered or dead-lettered), however
// many attempts it took and whether it travelled alone or in a digest; attempts are
// counted per request to WeCom. Simulated time, a real SQLite Store.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Channel } from "../../src/channels/channel.js";
import type { DigestRenderer } from "../../src/delivery/coalesce.js";
import { Dispatcher, type DispatcherOptions, type TargetRuntime } from "../../src/delivery/dispatcher.js";
import { createMetrics, type Metrics } from "../../src/metrics.js";
import { SqliteStore } from "../../src/outbox/sqlite.js";
import type { SendResult } from "../../src/types.js";
import { FakeClock } from "../support/fake-clock.js";
import { message } from "../support/messages.js";
import { tempDir } from "../support/tmp.js";

const MINUTE = 60_000;
const renderDigest: DigestRenderer = (items) => [`${items.length} notifications`, ...items.map((item) => item.summary)].join("\n");

/** A channel answering `answers` in turn, then ok; counts the requests it was given. */
function answering(answers: SendResult[]): { channel: Channel; requests: () => number } {
  let requests = 0;
  return {
    channel: { kind: "robot", send: async () => (requests++, answers.shift() ?? { kind: "ok" }) },
    requests: () => requests,
  };
}

async function value(metrics: Metrics, name: keyof Metrics, labels: Record<string, string>): Promise<number> {
  const metric = metrics[name] as { get(): Promise<{ values: { labels: Record<string, unknown>; value: number; metricName?: string }[] }> };
  const { values } = await metric.get();
  return values
    .filter((v) => v.metricName === undefined || !/_(bucket|sum)$/.test(v.metricName))
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

describe("outcome counts", () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let clock: FakeClock;
  let metrics: Metrics;
  let dispatcher: Dispatcher | undefined;

  beforeEach(() => {
    tmp = tempDir();
    store = SqliteStore.open(tmp.dir);
    clock = new FakeClock();
    metrics = createMetrics();
  });
  afterEach(async () => {
    const stopping = dispatcher?.stop();
    await clock.advance(0);
    await stopping;
    await store.close();
    tmp.remove();
  });

  const run = async (channel: Channel, rows: number, overrides: Partial<DispatcherOptions> = {}) => {
    for (let i = 0; i < rows; i++) {
      await store.accept([{ messages: [message({ target: "robot-a", summary: `[FIRING:1] Alert${i}`, eventIds: [`e${i}`], content: `m${i}` })] }], clock.now());
    }
    const options: DispatcherOptions = {
      concurrency: 4,
      retry: { initialMs: 1000, maxMs: MINUTE, maxAgeMs: 3_600_000 },
      coalesceAfterMs: 1000,
      renderDigest,
      ...overrides,
    };
    const runtime: TargetRuntime = { channel, rateLimit: { max: 20, per: MINUTE }, paceKey: "robot:a", byteLimit: () => 4096 };
    dispatcher = new Dispatcher(store, metrics, options, { clock, leaseMs: 15_000, holder: "test" });
    dispatcher.configure(new Map([["robot-a", runtime]]), new Map(), options);
    dispatcher.notify("robot-a");
    await clock.advance(30 * MINUTE);
    expect((await store.depthByTarget()).size).toBe(0);
  };

  const target = { target: "robot-a" };

  it("counts a digest that failed three times and then went out as one delivery per message it carried", async () => {
    const busy: SendResult = { kind: "retry", error: "HTTP 502", class: "http_5xx" };
    const { channel, requests } = answering([busy, busy, busy]);
    await run(channel, 30);

    expect(requests()).toBe(4); // one digest: three failures, one success
    expect(await value(metrics, "sendAttempts", { ...target, result: "retry" })).toBe(3);
    expect(await value(metrics, "sendAttempts", { ...target, result: "ok" })).toBe(1);
    expect(await value(metrics, "sendFailures", { ...target, class: "http_5xx" })).toBe(3);
    // Per message, once: not 30 per attempt.
    expect(await value(metrics, "messagesRetried", target)).toBe(30);
    expect(await value(metrics, "messagesDelivered", target)).toBe(30);
    expect(await value(metrics, "coalesced", target)).toBe(30);
    expect(await value(metrics, "deadLetters", target)).toBe(0);
    const latency = (await metrics.deliveryLatency.get()).values.find((v) => v.metricName?.endsWith("_count"));
    expect(latency?.value).toBe(30);
  });

  it("counts messages given up once as dead letters, never as delivered or coalesced", async () => {
    const { channel } = answering([{ kind: "permanent", error: "errcode 93000: invalid webhook url", errcode: 93000 }]);
    await run(channel, 10);

    expect(await value(metrics, "deadLetters", { ...target, reason: "errcode_93000" })).toBe(10);
    expect(await value(metrics, "messagesDelivered", target)).toBe(0);
    expect(await value(metrics, "coalesced", target)).toBe(0);
    expect(await value(metrics, "messagesRetried", target)).toBe(0);
    expect(await value(metrics, "wecomErrors", { ...target, errcode: "93000" })).toBe(1);
    expect(await value(metrics, "sendFailures", { ...target, class: "errcode" })).toBe(1);
  });

  it("counts a message retried until max_age once, as a dead letter, and its retries once", async () => {
    const { channel } = answering(Array.from({ length: 50 }, (): SendResult => ({ kind: "retry", error: "request to qyapi timed out after 10000 ms", class: "timeout" })));
    await run(channel, 1, { retry: { initialMs: 1000, maxMs: MINUTE, maxAgeMs: 5 * MINUTE } });

    expect(await value(metrics, "deadLetters", { ...target, reason: "max_age" })).toBe(1);
    expect(await value(metrics, "messagesRetried", target)).toBe(1);
    expect(await value(metrics, "sendFailures", { ...target, class: "timeout" })).toBeGreaterThan(3);
    expect(await value(metrics, "messagesDelivered", target)).toBe(0);
  });
});
