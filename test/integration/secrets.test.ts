import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogs } from "../support/capture-logs.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { startRelay, type RunningRelay } from "../support/relay.js";

const ROBOT_KEY = "robot-key-5d1f0a3c-9b7e-2a41";
const AM_TOKEN = "am-bearer-7f3c0a9e1d";
const API_PASSWORD = "api-basic-pass-42x9";

describe("secrets never reach logs, errors or metrics", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let capture: ReturnType<typeof captureLogs>;

  afterEach(async () => {
    capture.stop();
    await relay.close();
    await wecom.close();
  });

  it("keeps every configured secret out of a whole debug-level scenario", async () => {
    capture = captureLogs("debug");
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    const config = `
wecom: { api_base: "${wecom.url}", timeout: 500ms }
delivery: { retry_initial: 20ms, retry_max: 50ms }
auth:
  alertmanager: { bearer_token: \${AM_TOKEN} }
  api: { basic_auth: { username: ops, password: \${API_PASSWORD} } }
targets:
  robot: { type: robot, webhook: "\${ROBOT_WEBHOOK}", rate_limit: { max: 100, per: 1s } }
receivers:
  - { name: sre, targets: [robot] }
route: { receiver: sre }
`;
    relay = await startRelay(config, {
      env: { AM_TOKEN, API_PASSWORD, ROBOT_WEBHOOK: `${wecom.url}/cgi-bin/webhook/send?key=${ROBOT_KEY}` },
    });
    const auth = { authorization: `Bearer ${AM_TOKEN}` };

    // Deliveries, transient failures, a hang past the timeout, a permanent failure.
    wecom.failNext(1, { errcode: -1 }, "robot");
    wecom.failNext(1, "hang", "robot");
    wecom.failNext(1, { httpStatus: 502, body: `<html>proxy error for /cgi-bin/webhook/send?key=${ROBOT_KEY}</html>` }, "robot");
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "One" }]), auth);
    await wecom.waitForRobotMessages(1, { timeoutMs: 5000 });
    wecom.failNext(1, { errcode: 93000, errmsg: `invalid webhook url, key=${ROBOT_KEY}` }, "robot");
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Two" }]), auth);
    const { id } = (await res.json()) as { id: string };
    const status = async () => (await (await fetch(`${relay.url}/api/v1/messages/${id}`, { headers: { authorization: basic() } })).text());
    await expect.poll(status, { timeout: 5000 }).toContain('"state":"failed"');

    // Rejections: wrong credentials of every kind.
    await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "X" }]), { authorization: `Bearer ${AM_TOKEN}-wrong` });
    await relay.post("/api/v1/messages", { receiver: "sre", text: "x" }, { authorization: `Basic ${Buffer.from(`ops:${API_PASSWORD}x`).toString("base64")}` });

    // A failed reload whose config mentions the secrets, then a good one.
    writeFileSync(relay.configFile, config.replace("route: { receiver: sre }", `route: { receiver: "${AM_TOKEN}" }`));
    const reload = await relay.post("/-/reload", "", { authorization: basic() });
    expect(reload.status).toBe(500);
    const reloadBody = await reload.text();
    writeFileSync(relay.configFile, config);
    expect((await relay.post("/-/reload", "", { authorization: basic() })).status).toBe(200);

    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    const statusBody = await status();
    const everything = [...capture.lines, reloadBody, metrics, statusBody].join("\n");
    expect(capture.lines.length).toBeGreaterThan(5);
    expect(capture.lines.some((line) => line.includes('"level":"debug"'))).toBe(true);
    for (const secret of [ROBOT_KEY, AM_TOKEN, API_PASSWORD, Buffer.from(`ops:${API_PASSWORD}`).toString("base64")]) {
      expect(everything).not.toContain(secret);
    }

    function basic() {
      return `Basic ${Buffer.from(`ops:${API_PASSWORD}`).toString("base64")}`;
    }
  });

  it("keeps secrets WeCom or a proxy echoes in any form out of API answers and the stored outbox", async () => {
    capture = captureLogs("warn");
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    const secret = DEFAULT_FAKE_APP.secret;
    relay = await startRelay(
      `
wecom: { api_base: "${wecom.url}", timeout: 500ms }
delivery: { retry_initial: 20ms, retry_max: 50ms, max_age: 2s }
targets:
  robot: { type: robot, webhook: "${ROBOT_KEY}", rate_limit: { max: 100, per: 1s } }
  app: { type: app, corp_id: "${DEFAULT_FAKE_APP.corpId}", secret: "\${APP_SECRET}", agent_id: ${DEFAULT_FAKE_APP.agentId}, to_user: [a] }
receivers:
  - { name: sre, targets: [robot, app] }
route: { receiver: sre }
`,
      { env: { APP_SECRET: secret } },
    );
    // The key bare in a status line's content type, URL-encoded in an errmsg; the app secret in gettoken's errmsg.
    wecom.failNext(1, { httpStatus: 503, body: "busy", contentType: `text/html; robot=${ROBOT_KEY}` }, "robot");
    wecom.failNext(1, { errcode: 77777, errmsg: `bad robot ${encodeURIComponent(ROBOT_KEY + "/x")} ${encodeURIComponent(ROBOT_KEY)}` }, "robot");
    wecom.failNext(20, { errcode: -1, errmsg: `system busy for secret ${secret} (${encodeURIComponent(secret)})` }, "gettoken");
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Echo" }]));
    const { id } = (await res.json()) as { id: string };
    const answer = async () => (await fetch(`${relay.url}/api/v1/messages/${id}`)).text();
    await expect.poll(answer, { timeout: 10_000 }).toContain('"state":"failed"');

    const answers = [await answer(), await (await fetch(`${relay.url}/api/v1/dead-letters`)).text()].join("\n");
    expect(answers).toContain("[REDACTED]");
    await relay.service.stop();
    const stored = readFileSync(join(relay.dataDir, "outbox.db")).toString("latin1");
    for (const form of [ROBOT_KEY, encodeURIComponent(ROBOT_KEY), secret, encodeURIComponent(secret)]) {
      expect(answers).not.toContain(form);
      expect(stored).not.toContain(form);
      expect(capture.lines.join("\n")).not.toContain(form);
    }
  });
});
