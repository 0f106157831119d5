// The delivery engine in simulated time: a real SQLite Store, a channel that records what
// it was given, and a clock the test moves.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Channel } from "../../src/channels/channel.js";
import type { DigestRenderer } from "../../src/delivery/coalesce.js";
import { Dispatcher, type DispatcherOptions, type TargetRuntime } from "../../src/delivery/dispatcher.js";
import { Pacer, paceInterval, paceRate } from "../../src/delivery/pacer.js";
import { createMetrics } from "../../src/metrics.js";
import { SqliteStore } from "../../src/outbox/sqlite.js";
import type { Message, SendResult } from "../../src/types.js";
import { FakeClock } from "../support/fake-clock.js";
import { message } from "../support/messages.js";
import { tempDir } from "../support/tmp.js";

const renderDigest: DigestRenderer = (items) => [`${items.length} notifications`, ...items.map((item) => item.summary)].join("\n");
const MINUTE = 60_000;

interface Recorded {
  at: number;
  message: Message;
}

function recordingChannel(clock: FakeClock, answers: SendResult[] = []) {
  const sent: Recorded[] = [];
  const channel: Channel = {
    kind: "robot",
    send: async (m) => {
      sent.push({ at: clock.now(), message: m });
      return answers.shift() ?? { kind: "ok" };
    },
  };
  return { channel, sent };
}

function runtime(channel: Channel, rate = { max: 20, per: MINUTE }, paceKey = "robot:a"): TargetRuntime {
  return { channel, rateLimit: rate, paceKey, byteLimit: () => 4096 };
}

const options = (overrides: Partial<DispatcherOptions> = {}): DispatcherOptions => ({
  concurrency: 4,
  retry: { initialMs: 1000, maxMs: MINUTE, maxAgeMs: 3_600_000 },
  coalesceAfterMs: 3_600_000,
  renderDigest,
  ...overrides,
});

describe("delivery engine in simulated time", () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let clock: FakeClock;
  let dispatcher: Dispatcher | undefined;

  beforeEach(() => {
    tmp = tempDir();
    store = SqliteStore.open(tmp.dir);
    clock = new FakeClock();
  });
  afterEach(async () => {
    const stopping = dispatcher?.stop();
    await clock.advance(0);
    await stopping;
    dispatcher = undefined;
    await store.close();
    tmp.remove();
  });

  const queue = async (count: number, target = "robot-a") => {
    for (let i = 0; i < count; i++) {
      await store.accept([{ messages: [message({ target, summary: `[FIRING:1] Alert${i}`, eventIds: [`e${i}`], content: `m${i}` })] }], clock.now());
    }
  };

  const start = (targets: Map<string, TargetRuntime>, opts = options(), throttles = new Map()) => {
    dispatcher = new Dispatcher(store, createMetrics(), opts, { clock, leaseMs: 15_000, holder: "test" });
    dispatcher.configure(targets, throttles, opts);
    for (const target of targets.keys()) dispatcher.notify(target);
  };

  it("sends a backlog at the robot's pace, one message per interval, in arrival order", async () => {
    const { channel, sent } = recordingChannel(clock);
    await queue(4);
    const t0 = clock.now();
    start(new Map([["robot-a", runtime(channel)]]));
    const interval = paceInterval({ max: 20, per: MINUTE });
    await clock.advance(interval * 3);
    expect(sent.map((s) => s.message.content)).toEqual(["m0", "m1", "m2", "m3"]);
    expect(sent.map((s) => s.at - t0)).toEqual([0, interval, 2 * interval, 3 * interval]);
    expect((await store.depthByTarget()).size).toBe(0);
  });

  it("shares one pace between two targets on the same robot", async () => {
    const a = recordingChannel(clock);
    const b = recordingChannel(clock);
    await queue(2, "robot-a");
    await queue(2, "robot-b");
    start(new Map([["robot-a", runtime(a.channel)], ["robot-b", runtime(b.channel)]]));
    await clock.advance(MINUTE);
    const times = [...a.sent, ...b.sent].map((s) => s.at).sort((x, y) => x - y);
    expect(times).toHaveLength(4);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(paceInterval({ max: 20, per: MINUTE }));
  });

  it("waits out WeCom's window after a 45009, then delivers what it held back", async () => {
    const { channel, sent } = recordingChannel(clock, [{ kind: "retry", error: "errcode 45009", errcode: 45009, afterMs: MINUTE }]);
    await queue(2);
    const t0 = clock.now();
    start(new Map([["robot-a", runtime(channel)]]));
    await clock.advance(MINUTE - 1);
    expect(sent).toHaveLength(1);
    expect(await store.pausedUntil("robot:a")).toBe(t0 + MINUTE);
    await clock.advance(2 * MINUTE);
    expect(sent.length).toBe(3); // the rate-limited one again, and the second
    expect(sent[1]!.at).toBeGreaterThanOrEqual(t0 + MINUTE);
    expect((await store.depthByTarget()).size).toBe(0);
  });

  it("retries a transient failure after its backoff and records the attempt", async () => {
    const { channel, sent } = recordingChannel(clock, [{ kind: "retry", error: "errcode -1: system busy", errcode: -1 }]);
    await queue(1);
    start(new Map([["robot-a", runtime(channel)]]));
    await clock.advance(0);
    expect(sent).toHaveLength(1);
    const [row] = await store.due("robot-a", clock.now() + MINUTE, 1);
    expect(row).toMatchObject({ attempts: 1, lastError: "errcode -1: system busy" });
    await clock.advance(MINUTE);
    expect(sent).toHaveLength(2);
    expect((await store.get(row!.id))?.state).toBe("sent");
  });

  it("dead-letters a permanent failure without retrying", async () => {
    const { channel, sent } = recordingChannel(clock, [{ kind: "permanent", error: "errcode 93000: invalid webhook url", errcode: 93000 }]);
    await queue(1);
    start(new Map([["robot-a", runtime(channel)]]));
    await clock.advance(10 * MINUTE);
    expect(sent).toHaveLength(1);
    expect((await store.listDead(10)).map((d) => d.lastError)).toEqual(["errcode 93000: invalid webhook url"]);
  });

  it("merges a backlog that would take longer than coalesce_after into digests carrying every row", async () => {
    const { channel, sent } = recordingChannel(clock);
    await queue(300);
    start(new Map([["robot-a", runtime(channel)]]), options({ coalesceAfterMs: 30_000 }));
    await clock.advance(5 * MINUTE);
    expect((await store.depthByTarget()).size).toBe(0);
    expect(sent.length).toBeLessThan(30);
    const listed = sent.map((s) => s.message.content).join("\n");
    for (let i = 0; i < 300; i++) expect(listed).toMatch(new RegExp(`Alert${i}$`, "m"));
  });

  it("lets what arrives while a digest waits for its slot join that digest", async () => {
    const { channel, sent } = recordingChannel(clock);
    const slow = { max: 1, per: MINUTE };
    await queue(1);
    start(new Map([["robot-a", runtime(channel, slow)]]), options({ coalesceAfterMs: 30_000 }));
    await clock.advance(1000);
    expect(sent).toHaveLength(1);
    for (let i = 1; i <= 5; i++) {
      await store.accept([{ messages: [message({ target: "robot-a", summary: `[FIRING:1] Early${i}`, eventIds: [`early${i}`] })] }], clock.now());
    }
    dispatcher!.notify("robot-a");
    await clock.advance(30_000);
    for (let i = 1; i <= 10; i++) {
      await store.accept([{ messages: [message({ target: "robot-a", summary: `[FIRING:1] Late${i}`, eventIds: [`late${i}`] })] }], clock.now());
    }
    dispatcher!.notify("robot-a");
    await clock.advance(MINUTE);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.message.content).toContain("15 notifications");
    expect((await store.depthByTarget()).size).toBe(0);
  });

  it("applies a receiver's throttle on top of the robot's pace", async () => {
    const { channel, sent } = recordingChannel(clock);
    await queue(3);
    const t0 = clock.now();
    start(new Map([["robot-a", runtime(channel)]]), options(), new Map([["sre", { max: 1, per: 10_000 }]]));
    await clock.advance(25_000);
    const spacing = paceInterval({ max: 1, per: 10_000 });
    expect(sent.map((s) => s.at - t0)).toEqual([0, spacing, 2 * spacing]);
  });

  it("after a reload lowers the rate, counts the sends already made in the window", async () => {
    const { channel, sent } = recordingChannel(clock);
    await queue(8);
    const fast = { max: 20, per: 10_000 };
    const t0 = clock.now();
    start(new Map([["robot-a", runtime(channel, fast)]]));
    await clock.advance(paceInterval(fast) * 4);
    expect(sent).toHaveLength(5);
    const slow = { max: 5, per: 10_000 };
    dispatcher!.configure(new Map([["robot-a", runtime(channel, slow)]]), new Map(), options());
    await clock.advance(30_000);
    const times = sent.map((s) => s.at - t0);
    expect(sent).toHaveLength(8);
    // Any 10 s window holds at most 5 sends, the reload's included.
    for (let i = 5; i < times.length; i++) expect(times[i]! - times[i - 5]!).toBeGreaterThanOrEqual(10_000);
  });

  it("stops at shutdown with the rest still queued, and waits for nothing", async () => {
    const { channel, sent } = recordingChannel(clock);
    await queue(3);
    start(new Map([["robot-a", runtime(channel, { max: 1, per: MINUTE })]]));
    await clock.advance(0);
    expect(sent).toHaveLength(1);
    await dispatcher!.stop();
    dispatcher = undefined;
    expect((await store.depthByTarget()).get("robot-a")).toBe(2);
    expect(clock.pending).toBe(0);
  });
});

describe("pacer", () => {
  it("calls off a send whose robot was paused while it waited, and gives its slot back", async () => {
    const tmp = tempDir();
    const store = SqliteStore.open(tmp.dir);
    const clock = new FakeClock(0);
    const pacer = new Pacer(store, clock);
    const rate = { max: 1, per: 10_000 };
    try {
      await store.takeSlot("robot:a", 0, paceRate(rate));
      const waiting = pacer.acquire([{ key: "robot:a", rate, name: "robot-a" }]);
      await clock.advance(1000);
      await store.pauseKey("robot:a", 60_000);
      await clock.advance(20_000);
      expect(await waiting).toBe(false);
      // The called-off slot is free again: the next one is due at the pause's end.
      expect(await store.takeSlot("robot:a", 21_000, paceRate(rate))).toBe(60_000);
    } finally {
      await store.close();
      tmp.remove();
    }
  });
});
