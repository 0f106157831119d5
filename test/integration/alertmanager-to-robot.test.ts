import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

describe("Alertmanager webhook to WeCom robot", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay | undefined;

  beforeEach(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 20, perMs: 1000 } });
  });
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await wecom.close();
  });

  it("delivers a firing alert as markdown naming the alert, its severity and summary", async () => {
    relay = await startRelay(robotConfig(wecom.url));
    const body = alertmanagerPayload([{ name: "HighLatency", severity: "critical", summary: "p99 above 2s" }]);
    const res = await relay.post("/webhook/alertmanager", body);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "queued", messages: 1 });

    const [message] = await wecom.waitForRobotMessages(1, { key: "k1" });
    expect(message!.msgtype).toBe("markdown");
    expect(message!.content).toContain("HighLatency");
    expect(message!.content).toContain("critical");
    expect(message!.content).toContain("p99 above 2s");
    expect(message!.content).toContain("16:00"); // 08:00Z shown in Asia/Shanghai
  });

  it("delivers a resolved notification and mentions users in a text route", async () => {
    const extra = `  routes:
    - matchers: ['status="resolved"']
      format: text
      mention: [zhangsan]`;
    relay = await startRelay(robotConfig(wecom.url, { extra }));
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "DiskFull", status: "resolved" }]));
    const [message] = await wecom.waitForRobotMessages(1);
    expect(message!.msgtype).toBe("text");
    expect(message!.content).toContain("DiskFull");
    expect(message!.content.toLowerCase()).toContain("resolved");
    expect(message!.mentionedList).toEqual(["zhangsan"]);
  });

  it("paces 45 messages to a 20-per-second robot: never over 20 in any second, all arrive", async () => {
    relay = await startRelay(robotConfig(wecom.url, { rate: "{ max: 20, per: 1s }" }));
    for (let i = 0; i < 45; i++) {
      const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: `Alert${i}` }]));
      expect(res.status).toBe(200);
    }
    const messages = await wecom.waitForRobotMessages(45, { timeoutMs: 15_000 });
    const times = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
    for (let i = 20; i < times.length; i++) {
      // The 21st message after any message must arrive at least a second later.
      expect(times[i]! - times[i - 20]!).toBeGreaterThanOrEqual(1000);
    }
    const names = new Set(messages.map((m) => /Alert\d+/.exec(m.content)?.[0]));
    expect(names.size).toBe(45);
    expect(wecom.requests("robot").filter((r) => typeof r.reply === "object" && r.reply.errcode === 45009)).toHaveLength(0);
  });

  it("counts an errcode answered with HTTP 200 as a failure and dead-letters a permanent one", async () => {
    relay = await startRelay(robotConfig(wecom.url));
    wecom.failNext(1, { errcode: 93000, errmsg: "invalid webhook url" }, "robot");
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "A" }]));
    const { id } = (await res.json()) as { id: string };
    const state = async () => ((await (await fetch(`${relay!.url}/api/v1/messages/${id}`)).json()) as { state: string }).state;
    await expect.poll(state, { timeout: 5000 }).toBe("failed");
    const status = (await (await fetch(`${relay.url}/api/v1/messages/${id}`)).json()) as { last_error: string };
    expect(status.last_error).toContain("93000");
    expect(await relay.metric("wecom_relay_send_attempts_total", { target: "robot-1", result: "permanent" })).toBe(1);
    expect(await relay.metric("wecom_relay_send_attempts_total", { target: "robot-1", result: "ok" })).toBe(0);
    expect(await relay.metric("wecom_relay_send_failures_total", { target: "robot-1", class: "errcode" })).toBe(1);
    expect(await relay.metric("wecom_relay_wecom_errors_total", { target: "robot-1", errcode: "93000" })).toBe(1);
    expect(await relay.metric("wecom_relay_messages_delivered_total", { target: "robot-1" })).toBe(0);
    expect(await relay.metric("wecom_relay_dead_letters_total", { target: "robot-1" })).toBe(1);
    expect(wecom.robotMessages()).toHaveLength(0);
  });

  it("retries a transient errcode and then delivers", async () => {
    relay = await startRelay(robotConfig(wecom.url));
    wecom.failNext(2, { errcode: -1, errmsg: "system busy" }, "robot");
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Flaky" }]));
    const [message] = await wecom.waitForRobotMessages(1);
    expect(message!.content).toContain("Flaky");
    // Two attempts failed; one message needed retries, and it was delivered once.
    expect(await relay.metric("wecom_relay_send_attempts_total", { result: "retry" })).toBe(2);
    expect(await relay.metric("wecom_relay_messages_retried_total", { target: "robot-1" })).toBe(1);
    await expect.poll(() => relay!.metric("wecom_relay_messages_delivered_total", { target: "robot-1" })).toBe(1);
  });

  it("paces two targets that name the same robot as one robot: no 45009 from our own pace", async () => {
    relay = await startRelay(robotConfig(wecom.url, { keys: ["shared", "shared"], rate: "{ max: 20, per: 1s }" }));
    for (let i = 0; i < 15; i++) await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: `Shared${i}` }]));
    const messages = await wecom.waitForRobotMessages(30, { key: "shared", timeoutMs: 10_000 });
    const times = messages.map((m) => m.receivedAt).sort((a, b) => a - b);
    for (let i = 20; i < times.length; i++) expect(times[i]! - times[i - 20]!).toBeGreaterThanOrEqual(1000);
    expect(wecom.requests("robot").filter((r) => typeof r.reply === "object" && r.reply.errcode === 45009)).toHaveLength(0);
  });

  it("applies a receiver's throttle on top of its targets' pace", async () => {
    const config = robotConfig(wecom.url, { rate: "{ max: 100, per: 1s }" }).replace(
      "    targets: [robot-1]",
      "    targets: [robot-1]\n    throttle: { max: 2, per: 1s }",
    );
    expect(config).toContain("throttle");
    relay = await startRelay(config);
    for (let i = 0; i < 5; i++) await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: `Throttled${i}` }]));
    const messages = await wecom.waitForRobotMessages(5, { timeoutMs: 10_000 });
    const times = messages.map((m) => m.receivedAt);
    // Throttled sends are 525 ms apart (unthrottled ones about 10 ms); measured where they
    // arrive, allow for a busy machine's jitter.
    for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 2]!).toBeGreaterThanOrEqual(900);
    expect(await relay.metric("wecom_relay_throttled_total", { limiter: "sre" })).toBeGreaterThanOrEqual(3);
  });

  it("pauses every target on a robot after a 45009, not just the one that got it", async () => {
    relay = await startRelay(robotConfig(wecom.url, { keys: ["shared", "shared"], rate: "{ max: 20, per: 1500ms }" }));
    wecom.failNext(1, { errcode: 45009, errmsg: "api freq out of limit" }, "robot");
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Paused" }]));
    const messages = await wecom.waitForRobotMessages(2, { key: "shared", timeoutMs: 10_000 });
    const limited = wecom.requests("robot").find((r) => typeof r.reply === "object" && r.reply.errcode === 45009)!;
    for (const message of messages) expect(message.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(1400);
  });

  it("fans one alert out to every target of the receiver", async () => {
    relay = await startRelay(robotConfig(wecom.url, { keys: ["k1", "k2"] }));
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Both" }]));
    const [one] = await wecom.waitForRobotMessages(1, { key: "k1" });
    const [two] = await wecom.waitForRobotMessages(1, { key: "k2" });
    expect(one!.content).toBe(two!.content);
  });
});
