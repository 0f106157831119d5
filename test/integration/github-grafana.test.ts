import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { LEAKED_TOKEN, pingPayload, pullRequestPayload, REPO, secretScanningAlertPayload } from "../support/github-payloads.js";
import { grafanaPayload } from "../support/grafana-payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

const GITHUB_SECRET = "It's a Secret to Everybody";
const GRAFANA_HMAC = "grafana-hmac-secret-0001";

const sign = (secret: string, body: string) => createHmac("sha256", secret).update(body).digest("hex");

describe("GitHub and Grafana webhooks", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 1000, perMs: 1000 } });
    const auth = `auth:
  github: { secret: "${GITHUB_SECRET}" }
  grafana:
    basic_auth: { username: grafana, password: grafana-pass-123 }
    hmac: { secret: ${GRAFANA_HMAC}, timestamp_header: X-Grafana-Alerting-Signature-Timestamp }
targets:`;
    relay = await startRelay(robotConfig(wecom.url, { rate: "{ max: 100, per: 1s }" }).replace("targets:", auth));
  });
  afterAll(async () => {
    await relay.close();
    await wecom.close();
  });
  beforeEach(() => wecom.reset());

  function github(event: string, payload: unknown, options: { delivery?: string; secret?: string; form?: boolean } = {}) {
    const json = JSON.stringify(payload);
    const body = options.form ? `payload=${encodeURIComponent(json)}` : json;
    return fetch(`${relay.url}/webhook/github`, {
      method: "POST",
      headers: {
        "content-type": options.form ? "application/x-www-form-urlencoded" : "application/json",
        "x-github-event": event,
        "x-github-delivery": options.delivery ?? crypto.randomUUID(),
        "x-hub-signature-256": `sha256=${sign(options.secret ?? GITHUB_SECRET, body)}`,
      },
      body,
    });
  }

  it("answers a signed ping with 200 and sends nothing", async () => {
    const res = await github("ping", pingPayload());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", messages: 0 });
    expect(await relay.metric("wecom_relay_messages_queued_total")).toBe(0);
  });

  it("queues a signed pull request event and delivers it naming the repository", async () => {
    const res = await github("pull_request", pullRequestPayload("opened"));
    expect(res.status).toBe(202);
    const [message] = await wecom.waitForRobotMessages(1);
    expect(message!.content).toContain(REPO);
  });

  it("accepts the form-encoded payload= variant", async () => {
    const res = await github("pull_request", pullRequestPayload("closed", { merged: true }), { form: true });
    expect(res.status).toBe(202);
    await wecom.waitForRobotMessages(1);
  });

  it("refuses a wrong or missing signature with 401", async () => {
    expect((await github("pull_request", pullRequestPayload("opened"), { secret: "wrong" })).status).toBe(401);
    const unsigned = await fetch(`${relay.url}/webhook/github`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "ping" },
      body: JSON.stringify(pingPayload()),
    });
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: string }).error).toBe("missing or invalid X-Hub-Signature-256");
  });

  it("queues a redelivery with the same X-GitHub-Delivery only once", async () => {
    const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    const received = () => relay.metric("wecom_relay_events_received_total", { source: "github" });
    const before = await received();
    const body = { ...pullRequestPayload("opened"), number: 4201 };
    const first = await github("pull_request", body, { delivery });
    const again = await github("pull_request", body, { delivery });
    expect(first.status).toBe(202);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { status: string }).status).toBe("duplicate");
    expect(await received()).toBe(before + 1);
    await wecom.waitForRobotMessages(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(wecom.robotMessages()).toHaveLength(1);
  });

  it("queues a captured signed body once, however its delivery id and event name are changed on replay", async () => {
    const body = { ...pullRequestPayload("opened"), number: 4202 };
    const first = await github("pull_request", body);
    expect(first.status).toBe(202);
    const replays = await Promise.all([
      github("pull_request", body),
      github("pull_request", body, { delivery: "another-delivery-id" }),
      github("issues", body),
    ]);
    // A duplicate (200), or refused as not fitting the event it claims (400): never queued again.
    expect(replays.map((r) => r.status)).toEqual([200, 200, 400]);
    await wecom.waitForRobotMessages(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(wecom.robotMessages()).toHaveLength(1);
  });

  it("refuses a signed delivery without X-GitHub-Delivery, or with an id no GitHub sends", async () => {
    const body = JSON.stringify({ ...pullRequestPayload("opened"), number: 4203 });
    const post = (delivery: string | undefined) =>
      fetch(`${relay.url}/webhook/github`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          ...(delivery !== undefined && { "x-github-delivery": delivery }),
          "x-hub-signature-256": `sha256=${sign(GITHUB_SECRET, body)}`,
        },
        body,
      });
    const missing = await post(undefined);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: string }).error).toMatch(/^X-GitHub-Delivery: header is missing/);
    expect((await post("x".repeat(15_000))).status).toBe(400);
    expect((await post("not a uuid; DROP TABLE")).status).toBe(400);
  });

  it("never forwards the leaked secret of a secret scanning alert", async () => {
    expect((await github("secret_scanning_alert", secretScanningAlertPayload())).status).toBe(202);
    const [message] = await wecom.waitForRobotMessages(1);
    expect(message!.content).not.toContain(LEAKED_TOKEN);
  });

  function grafana(body: string, options: { timestamp?: number; signature?: string; password?: string } = {}) {
    const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    return fetch(`${relay.url}/webhook/grafana`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`grafana:${options.password ?? "grafana-pass-123"}`).toString("base64")}`,
        "x-grafana-alerting-signature": options.signature ?? sign(GRAFANA_HMAC, `${timestamp}:${body}`),
        "x-grafana-alerting-signature-timestamp": timestamp,
      },
      body,
    });
  }

  it("delivers a signed, authenticated Grafana alert", async () => {
    const res = await grafana(JSON.stringify(grafanaPayload([{ name: "GrafanaDisk" }])));
    expect(res.status).toBe(200);
    const [message] = await wecom.waitForRobotMessages(1);
    expect(message!.content).toContain("GrafanaDisk");
  });

  it.each([
    ["a wrong password", { password: "nope" }, "invalid credentials"],
    ["a wrong signature", { signature: "00".repeat(32) }, "missing or invalid X-Grafana-Alerting-Signature signature"],
    ["a stale timestamp", { timestamp: Math.floor(Date.now() / 1000) - 3600 }, "stale signature timestamp"],
  ])("refuses a Grafana request with %s", async (_what, options, error) => {
    const res = await grafana(JSON.stringify(grafanaPayload([{ name: "X" }])), options);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });
});
