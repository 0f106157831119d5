// The end of a WeCom outage: what queued up during it goes out as soon as WeCom answers
// again, not each message at its own backoff time (up to retry_max later).
import { afterEach, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

describe("the end of an outage", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  afterEach(async () => {
    await relay?.close();
    await wecom?.close();
  });

  it("delivers every queued alert within seconds of WeCom recovering, with the default retry settings", async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    // Default delivery settings: retries from 1 s doubling up to 1 min.
    relay = await startRelay(`
wecom: { api_base: "${wecom.url}", timeout: 2s }
targets:
  robot-1: { type: robot, webhook: "k1", rate_limit: { max: 100, per: 1s } }
receivers: [{ name: sre, targets: [robot-1] }]
route: { receiver: sre }
`);
    wecom.failNext(100_000, { httpStatus: 502 }, "robot");
    const names = Array.from({ length: 8 }, (_, i) => `Outage${i}`);
    for (const name of names) {
      expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name }]))).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    // 8 s of failures: the oldest rows now wait 8–16 s for their next attempt.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const failedAttempts = wecom.requests("robot").length;
    expect(failedAttempts).toBeGreaterThan(8);

    wecom.reset(); // WeCom answers again
    const recoveredAt = Date.now();
    const delivered = () => new Set(wecom.robotMessages().flatMap((m) => m.content.match(/Outage\d/g) ?? []));
    await until(() => delivered().size === names.length, () => `delivered ${[...delivered()].join(",")}`, 30_000);
    // A new alert after recovery, or the next retry due, proves WeCom works; the rest follow at once.
    expect(Date.now() - recoveredAt).toBeLessThan(4000);
  }, 60_000);
});
