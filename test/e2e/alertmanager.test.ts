// The real Alertmanager posts to the relay through webhook_configs with bearer auth;
// firing and resolved notifications arrive at the fake WeCom.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findBinary } from "../support/binaries.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";

const alertmanagerBinary = findBinary("alertmanager");
const TOKEN = "e2e-bearer-token-0123456789";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe.skipIf(!alertmanagerBinary)("real Alertmanager to the relay to WeCom", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let alertmanager: ChildProcess;
  let amUrl: string;
  const tmp = tempDir();
  const amLog: string[] = [];

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    relay = await startRelay(
      robotConfig(wecom.url).replace("targets:", `auth:\n  alertmanager: { bearer_token: "${TOKEN}" }\ntargets:`),
    );
    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    const amConfig = join(tmp.dir, "alertmanager.yml");
    writeFileSync(
      amConfig,
      `
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
`,
    );
    alertmanager = spawn(
      alertmanagerBinary!,
      [
        `--config.file=${amConfig}`,
        `--storage.path=${join(tmp.dir, "am-data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--cluster.listen-address=",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    alertmanager.stderr!.on("data", (chunk: Buffer) => amLog.push(chunk.toString()));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const ready = await fetch(`${amUrl}/-/ready`).then((res) => res.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`Alertmanager did not become ready:\n${amLog.join("")}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  afterAll(async () => {
    alertmanager?.kill("SIGTERM");
    await relay?.close();
    await wecom?.close();
    tmp.remove();
  });

  async function postAlerts(alerts: object[]): Promise<void> {
    const res = await fetch(`${amUrl}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(alerts),
    });
    expect(res.status).toBe(200);
  }

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
