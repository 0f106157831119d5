import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerEvents } from "../../src/sources/alertmanager.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

describe("outbox writes", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 1000, perMs: 1000 } });
    relay = await startRelay(robotConfig(wecom.url, { rate: "{ max: 1000, per: 1s }" }));
  });
  afterAll(async () => {
    await relay.close();
    await wecom.close();
  });

  it("answers concurrent webhooks each only after its rows exist", async () => {
    const writes = vi.spyOn(relay.service.store, "accept");
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: `Concurrent${i}` }]))),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200));
    const ids = await Promise.all(responses.map(async (r) => ((await r.json()) as { id: string }).id));
    for (const id of ids) expect((await relay.service.store.requestStatus(id))?.deliveries).toHaveLength(1);
    writes.mockRestore();
  });

  it("writes requests that arrive in the same event-loop turn in one transaction", async () => {
    const writes = vi.spyOn(relay.service.store, "accept");
    const events = (name: string) => {
      const parsed = alertmanagerEvents(alertmanagerPayload([{ name }]));
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.value;
    };
    const accepted = await Promise.all(["Turn1", "Turn2", "Turn3", "Turn4", "Turn5"].map((name) => relay.service.accept(events(name))));
    expect(accepted.map((a) => a.messages)).toEqual([1, 1, 1, 1, 1]);
    expect(writes).toHaveBeenCalledTimes(1);
    expect(writes.mock.calls[0]![0]).toHaveLength(5);
    writes.mockRestore();
  });

  it("answers 500 when the outbox cannot be written, loses nothing it acknowledged, and serves again once it can write", async () => {
    const writes = vi.spyOn(relay.service.store, "accept").mockImplementationOnce(() => Promise.reject(new Error("SQLITE_FULL: database or disk is full")));
    const failed = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "DiskFull" }]));
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: "internal error" });
    writes.mockRestore();
    // Not ready until the health check can write again (within seconds); then it serves.
    expect((await fetch(`${relay.url}/-/ready`)).status).toBe(503);
    await expect.poll(async () => (await fetch(`${relay.url}/-/ready`)).status, { timeout: 5000 }).toBe(200);
    const ok = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "AfterDiskFull" }]));
    expect(ok.status).toBe(200);
    await expect.poll(() => wecom.robotMessages().some((m) => m.content.includes("AfterDiskFull")), { timeout: 5000 }).toBe(true);
    expect(wecom.robotMessages().some((m) => /\bDiskFull\b/.test(m.content))).toBe(false);
  });
});

describe("accepting while shutting down", () => {
  it("answers 503 (so the sender retries) for a webhook that arrives once the relay is stopping", async () => {
    const wecom = await startFakeWeCom();
    const relay = await startRelay(robotConfig(wecom.url));
    try {
      await relay.service.stop();
      const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Late" }]));
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe("not ready");
      expect((await fetch(`${relay.url}/-/ready`)).status).toBe(503);
      await expect(relay.service.accept([])).rejects.toThrow("shutting down");
    } finally {
      await relay.close();
      await wecom.close();
    }
  });
});
