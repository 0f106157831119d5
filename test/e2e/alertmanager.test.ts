// The real Alertmanager posts to the relay through webhook_configs with bearer auth;
// firing and resolved notifications arrive at the fake WeCom.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertmanagerBinary, startAlertmanager, type RunningAlertmanager } from "../support/alertmanager.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

const TOKEN = "e2e-bearer-token-0123456789";

describe.skipIf(!alertmanagerBinary)("real Alertmanager to the relay to WeCom", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let alertmanager: RunningAlertmanager;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    relay = await startRelay(
      robotConfig(wecom.url).replace("targets:", `auth:\n  alertmanager: { bearer_token: "${TOKEN}" }\ntargets:`),
    );
    alertmanager = await startAlertmanager(`
route:
  receiver: wecom
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: wecom
    webhook_configs:
      - url: ${relay.url}/webhook/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: ${TOKEN}
`);
  });

  afterAll(async () => {
    await alertmanager?.stop();
    await relay?.close();
    await wecom?.close();
  });

  const postAlerts = (alerts: object[]) => alertmanager.postAlerts(alerts);

  it("delivers firing alerts, then the resolved notification", async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    const alert = {
      labels: { alertname: "E2EDiskFull", severity: "critical", instance: "db1:9100" },
      annotations: { summary: "disk 97% full on db1" },
      startsAt,
      generatorURL: "http://prometheus:9090/graph",
    };
    await postAlerts([alert]);
    const [firing] = await wecom.waitForRobotMessages(1, { timeoutMs: 20_000 });
    expect(firing!.content).toContain("E2EDiskFull");
    expect(firing!.content).toContain("disk 97% full on db1");
    expect(firing!.content).toContain("FIRING");

    await postAlerts([{ ...alert, endsAt: new Date(Date.now() - 1000).toISOString() }]);
    const messages = await wecom.waitForRobotMessages(2, { timeoutMs: 20_000 });
    const resolved = messages[1]!;
    expect(resolved.content).toContain("E2EDiskFull");
    expect(resolved.content).toContain("RESOLVED");
    expect(await relay.metric("wecom_relay_events_received_total", { source: "alertmanager", status: "resolved" })).toBe(1);
    expect(await relay.metric("wecom_relay_requests_rejected_total", { reason: "unauthorized" })).toBe(0);
  });
});
