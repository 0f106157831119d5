import { afterEach, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

describe("retry classes", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  afterEach(async () => {
    await relay.close();
    await wecom.close();
  });

  async function start(options: Parameters<typeof robotConfig>[1] = {}, delivery?: string) {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    let config = robotConfig(wecom.url, options);
    if (delivery) config = config.replace(/^delivery: .*$/m, `delivery: ${delivery}`);
    relay = await startRelay(config);
  }

  async function send(alert: string): Promise<string> {
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: alert }]));
    return ((await res.json()) as { id: string }).id;
  }

  const status = async (id: string) =>
    (await (await fetch(`${relay.url}/api/v1/messages/${id}`)).json()) as {
      state: string;
      last_error?: string;
      deliveries: { attempts: number; state: string; id: string }[];
    };

  it.each([
    ["an HTTP 502 from a proxy", { httpStatus: 502 } as const],
    ["a connection reset", "reset" as const],
    ["system busy (errcode -1)", { errcode: -1 } as const],
  ])("retries after %s and then delivers", async (_what, fault) => {
    await start();
    wecom.failNext(1, fault, "robot");
    const id = await send("Transient");
    await expect.poll(async () => (await status(id)).state, { timeout: 5000 }).toBe("sent");
    expect((await status(id)).deliveries[0]!.attempts).toBe(2);
  });

  it("retries a send that times out", async () => {
    await start({}, "{ retry_initial: 50ms, retry_max: 200ms }");
    // Client timeout is 2s in the test config; the fake hangs once.
    wecom.failNext(1, "hang", "robot");
    const id = await send("Slow");
    await expect.poll(async () => (await status(id)).state, { timeout: 8000 }).toBe("sent");
    expect((await status(id)).deliveries[0]!.attempts).toBe(2);
  });

  it("waits for the rate window after 45009 before sending again", async () => {
    await start({ rate: "{ max: 20, per: 1500ms }" });
    wecom.failNext(1, { errcode: 45009, errmsg: "api freq out of limit" }, "robot");
    const started = Date.now();
    const id = await send("RateLimited");
    await expect.poll(async () => (await status(id)).state, { timeout: 6000 }).toBe("sent");
    const [delivered] = wecom.robotMessages();
    expect(delivered!.receivedAt - started).toBeGreaterThanOrEqual(1500);
  });

  it("dead-letters a message older than max_age instead of retrying it", async () => {
    await start({}, "{ retry_initial: 400ms, retry_max: 400ms, max_age: 300ms }");
    wecom.failNext(10, { errcode: -1 }, "robot");
    const id = await send("TooOld");
    await expect.poll(async () => (await status(id)).state, { timeout: 5000 }).toBe("failed");
    expect((await status(id)).last_error).toMatch(/max_age/);
    expect(await relay.metric("wecom_relay_dead_letters_total", { reason: "max_age" })).toBe(1);
  });

  it("lists dead letters and delivers one again on request", async () => {
    await start();
    wecom.failNext(1, { errcode: 93000, errmsg: "invalid webhook url" }, "robot");
    const id = await send("Revived");
    await expect.poll(async () => (await status(id)).state, { timeout: 5000 }).toBe("failed");

    const list = (await (await fetch(`${relay.url}/api/v1/dead-letters`)).json()) as { dead_letters: { request_id: string; last_error: string }[] };
    expect(list.dead_letters).toHaveLength(1);
    expect(list.dead_letters[0]!.request_id).toBe(id);
    expect(list.dead_letters[0]!.last_error).toContain("93000");

    const retried = await relay.post(`/api/v1/messages/${id}/retry`, "");
    expect(retried.status).toBe(200);
    expect(await retried.json()).toEqual({ id, requeued: 1 });
    await expect.poll(async () => (await status(id)).state, { timeout: 5000 }).toBe("sent");
    expect(wecom.robotMessages()[0]!.content).toContain("Revived");

    const again = await relay.post(`/api/v1/messages/${id}/retry`, "");
    expect(again.status).toBe(409);
    expect((await relay.post(`/api/v1/messages/unknown/retry`, "")).status).toBe(404);
  });
});
