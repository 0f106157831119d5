// Every known label set exists at 0 once a config is loaded, and labels stay a closed set.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "./support/fake-wecom.js";
import { alertmanagerPayload } from "./support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "./support/relay.js";
import { packageVersion } from "../src/paths.js";

let wecom: FakeWeCom;
let relay: RunningRelay;

beforeAll(async () => {
  wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
  relay = await startRelay(robotConfig(wecom.url, { rate: "{ max: 100, per: 1s }" }));
});
afterAll(async () => {
  await relay.close();
  await wecom.close();
});

const scrape = async () => (await fetch(`${relay.url}/metrics`)).text();

describe("metric series", () => {
  it("exposes every known label set at 0 before anything happened", async () => {
    const exposition = await scrape();
    for (const line of [
      'wecom_relay_send_attempts_total{target="robot-1",result="permanent"} 0',
      'wecom_relay_send_failures_total{target="robot-1",class="network"} 0',
      'wecom_relay_send_failures_total{target="robot-1",class="http_5xx"} 0',
      'wecom_relay_messages_delivered_total{target="robot-1"} 0',
      'wecom_relay_messages_retried_total{target="robot-1"} 0',
      'wecom_relay_coalesced_total{target="robot-1"} 0',
      'wecom_relay_dead_letters_total{target="robot-1",reason="errcode_93000"} 0',
      'wecom_relay_dead_letters_total{target="robot-1",reason="max_age"} 0',
      'wecom_relay_requests_rejected_total{source="github",reason="bad_signature"} 0',
      'wecom_relay_requests_rejected_total{source="alertmanager",reason="unauthorized"} 0',
      'wecom_relay_http_requests_total{source="alertmanager",code="401"} 0',
      'wecom_relay_http_request_duration_seconds_count{source="grafana"} 0',
      'wecom_relay_wecom_errors_total{target="robot-1",errcode="45009"} 0',
      'wecom_relay_config_reloads_total{result="failure"} 0',
      'wecom_relay_events_routed_total{receiver="sre"} 0',
      'wecom_relay_render_fallbacks_total{template="alertmanager"} 0',
      // Every template, not only those routes name: API messages may name any.
      'wecom_relay_render_fallbacks_total{template="digest"} 0',
      'wecom_relay_delivery_latency_seconds_count{target="robot-1"} 0',
      // Gauges read at scrape time, for every configured target.
      'wecom_relay_outbox_depth{target="robot-1"} 0',
      'wecom_relay_outbox_waiting_retry{target="robot-1"} 0',
      'wecom_relay_outbox_oldest_age_seconds{target="robot-1"} 0',
      'wecom_relay_target_paused_until_timestamp_seconds{target="robot-1"} 0',
    ]) {
      expect(exposition).toContain(line);
    }
  });

  it("counts an errcode it does not know as other, so no answer can create new series", async () => {
    wecom.failNext(1, { errcode: 777_777 }, "robot");
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Odd" }]))).status).toBe(200);
    await expect.poll(async () => relay.metric("wecom_relay_wecom_errors_total", { target: "robot-1", errcode: "other" }), { timeout: 5000 }).toBe(1);
    const exposition = await scrape();
    expect(exposition).not.toContain("777777");
    expect(await relay.metric("wecom_relay_dead_letters_total", { target: "robot-1", reason: "errcode_other" })).toBe(1);
  });

  it("names the relay's version and Node.js in build_info", async () => {
    expect(await scrape()).toContain(`\nwecom_relay_build_info{version="${packageVersion()}",nodejs_version="${process.version}"} 1\n`);
  });
});
