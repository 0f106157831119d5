// A storm on one robot whose routes mix markdown and text-with-@all (the shape of the
// shipped routes.yml): every alert arrives, the pages keep their @all, nothing is rejected.
import { afterEach, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

describe("a storm mixing markdown and text routes on one robot", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  afterEach(async () => {
    await relay.close();
    await wecom.close();
  });

  it("delivers every alert in digests within WeCom's limits and keeps @all for critical ones", async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 20, perMs: 1000 } });
    const extra = `  format: markdown
  routes:
    - matchers: ['severity="critical"']
      format: text
      mention: ["@all"]`;
    relay = await startRelay(robotConfig(wecom.url, { rate: "{ max: 20, per: 1s }", coalesceAfter: "1s", extra }));
    const name = (i: number) => `Mixed${String(i).padStart(3, "0")}`;
    for (let i = 0; i < 150; i++) {
      const severity = i % 3 === 0 ? "critical" : "warning";
      const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: name(i), severity }], { commonLabels: { alertname: name(i), severity } }));
      expect(res.status).toBe(200);
    }
    const seen = () => new Set(wecom.robotMessages().flatMap((m) => m.content.match(/Mixed\d{3}/g) ?? []));
    await until(() => seen().size === 150, () => `${seen().size} of 150 delivered`, 20_000);

    const rejected = wecom.requests("robot").filter((r) => typeof r.reply === "object" && r.reply.errcode !== 0);
    expect(rejected).toEqual([]);
    expect(await relay.metric("wecom_relay_dead_letters_total")).toBe(0);
    expect(await relay.metric("wecom_relay_coalesced_total")).toBeGreaterThan(0);
    const digests = wecom.robotMessages().filter((m) => m.content.includes("(coalesced)"));
    expect(digests.length).toBeGreaterThan(0);
    const critical = (m: { content: string }) => (m.content.match(/Mixed(\d{3})/g) ?? []).some((n) => Number(n.slice(5)) % 3 === 0);
    const pages = digests.filter(critical);
    expect(pages.length).toBeGreaterThan(0);
    for (const page of pages) expect([page.msgtype, page.mentionedList]).toEqual(["text", ["@all"]]);
  });
});
