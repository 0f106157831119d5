import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

const TOKEN = "am-token-0123456789";

describe("HTTP endpoints", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let config: string;

  beforeAll(async () => {
    wecom = await startFakeWeCom();
    config = robotConfig(wecom.url, {
      extra: "",
    }).replace("targets:", `server: { max_body: 4KiB }\nauth:\n  alertmanager: { bearer_token: "${TOKEN}" }\ntargets:`);
    relay = await startRelay(config);
  });
  afterAll(async () => {
    await relay.close();
    await wecom.close();
  });

  const auth = { authorization: `Bearer ${TOKEN}` };
  const errorOf = async (res: Response) => {
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    return (await res.json()) as { error: string; detail?: unknown };
  };

  it("accepts an authenticated Alertmanager webhook", async () => {
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "A" }]), auth);
    expect(res.status).toBe(200);
  });

  it.each([
    ["no credentials", {}, "authentication required"],
    ["a wrong token", { authorization: "Bearer nope" }, "invalid credentials"],
    ["basic instead of bearer", { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` }, "invalid credentials"],
  ])("answers 401 with %s", async (_what, headers, error) => {
    const before = await relay.metric("wecom_relay_requests_rejected_total", { source: "alertmanager", reason: "unauthorized" });
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "A" }]), headers);
    expect(res.status).toBe(401);
    expect((await errorOf(res)).error).toBe(error);
    expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "alertmanager", reason: "unauthorized" })).toBe(before + 1);
  });

  it("counts every answer by source and status code, and times it; probes and scrapes are left out", async () => {
    const count = (labels: Record<string, string>) => relay.metric("wecom_relay_http_requests_total", labels);
    const timed = () => relay.metric("wecom_relay_http_request_duration_seconds_count", { source: "alertmanager" });
    const [ok, refused, all, times, probes] = [await count({ source: "alertmanager", code: "200" }), await count({ source: "alertmanager", code: "401" }), await count({}), await timed(), await count({ source: "other" })];
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Counted" }]), auth)).status).toBe(200);
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Refused" }]))).status).toBe(401);
    await fetch(`${relay.url}/-/ready`);
    await fetch(`${relay.url}/metrics`);
    await expect.poll(() => count({ source: "alertmanager", code: "200" })).toBe(ok + 1);
    expect(await count({ source: "alertmanager", code: "401" })).toBe(refused + 1);
    expect(await timed()).toBe(times + 2);
    expect(await count({ source: "other" })).toBe(probes);
    expect(await count({})).toBe(all + 2);
  });

  it("answers 400 for malformed JSON, naming the parser's complaint", async () => {
    const res = await relay.post("/webhook/alertmanager", '{"version": "4",', auth);
    expect(res.status).toBe(400);
    const body = await errorOf(res);
    expect(body.error).toBe("malformed JSON body");
    expect(JSON.stringify(body.detail)).toMatch(/JSON/);
  });

  it("answers 400 for a body that is not valid UTF-8", async () => {
    const res = await fetch(`${relay.url}/webhook/alertmanager`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).error).toBe("body is not valid UTF-8");
  });

  it("answers 400 naming the field for a payload of the wrong shape", async () => {
    const body = alertmanagerPayload([{ name: "A" }]) as Record<string, unknown>;
    body.alerts = "many";
    const res = await relay.post("/webhook/alertmanager", body, auth);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.error).toMatch(/^alerts: /);
    expect(error.detail).toEqual({ field: "alerts" });
  });

  it("answers 413 for a body over server.max_body", async () => {
    const body = alertmanagerPayload([{ name: "A", summary: "x".repeat(5000) }]);
    const res = await relay.post("/webhook/alertmanager", body, auth);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).detail).toEqual({ limit_bytes: 4096 });
  });

  it("answers 415 for a body that is not JSON", async () => {
    const res = await relay.post("/webhook/alertmanager", "alert!", { ...auth, "content-type": "text/plain" });
    expect(res.status).toBe(415);
    expect((await errorOf(res)).error).toBe('unsupported content type "text/plain"');
  });

  it("answers 404 in JSON for an unknown path", async () => {
    const res = await fetch(`${relay.url}/nope`);
    expect(res.status).toBe(404);
    expect((await errorOf(res)).error).toBe("no route for GET /nope");
  });

  it("counts requests to invented paths under one label value, so clients cannot create series", async () => {
    for (let i = 0; i < 20; i++) await relay.post(`/webhook/invented-${i}`, "{}");
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).not.toContain("invented");
    expect(await relay.metric("wecom_relay_requests_rejected_total", { source: "other", reason: "not_found" })).toBeGreaterThanOrEqual(20);
  });

  it("keeps serving after every rejection", async () => {
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "StillHere" }]), auth);
    expect(res.status).toBe(200);
  });

  it("reports healthy and ready", async () => {
    expect((await fetch(`${relay.url}/-/healthy`)).status).toBe(200);
    const ready = await fetch(`${relay.url}/-/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("exports Prometheus metrics prefixed wecom_relay_", async () => {
    const res = await fetch(`${relay.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("# TYPE wecom_relay_events_received_total counter");
    expect(text).toContain('wecom_relay_outbox_depth{target="robot-1"}');
    expect(text).not.toContain(TOKEN);
  });

  it("queues a generic API message and reports its delivery", async () => {
    const res = await relay.post("/api/v1/messages", { receiver: "sre", text: "deploy finished" });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const status = async () => ((await (await fetch(`${relay.url}/api/v1/messages/${id}`)).json()) as { state: string }).state;
    await expect.poll(status, { timeout: 5000 }).toBe("sent");
    expect(wecom.robotMessages().some((m) => m.content === "deploy finished")).toBe(true);
  });

  it("honours Idempotency-Key on API messages", async () => {
    const headers = { "idempotency-key": "deploy-42" };
    const first = (await (await relay.post("/api/v1/messages", { receiver: "sre", text: "once" }, headers)).json()) as { id: string };
    const second = (await (await relay.post("/api/v1/messages", { receiver: "sre", text: "once" }, headers)).json()) as { id: string; duplicate?: boolean };
    expect(second).toEqual({ id: first.id, duplicate: true });
  });

  it("answers 404 for an API message to an unknown receiver and for an unknown message id", async () => {
    const res = await relay.post("/api/v1/messages", { receiver: "nobody", text: "x" });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).error).toBe('unknown receiver "nobody"');
    expect((await fetch(`${relay.url}/api/v1/messages/nope`)).status).toBe(404);
  });

  it("reloads a good config and keeps the old one when the new one is bad", async () => {
    expect((await relay.post("/-/reload", "")).status).toBe(200);
    writeFileSync(relay.configFile, config.replace("receiver: sre", "receiver: missing"));
    const bad = await relay.post("/-/reload", "");
    expect(bad.status).toBe(500);
    const body = await errorOf(bad);
    expect(JSON.stringify(body.detail)).toContain("missing");
    expect(await relay.metric("wecom_relay_config_reloads_total", { result: "failure" })).toBe(1);
    expect(await relay.metric("wecom_relay_config_last_reload_successful")).toBe(0);
    const still = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "AfterBadReload" }]), auth);
    expect(still.status).toBe(200);
    writeFileSync(relay.configFile, config);
  });
});

describe("inbound rate limit", () => {
  it("answers 429 with Retry-After past server.rate_limit per address, and serves probes regardless", async () => {
    const wecom = await startFakeWeCom();
    const config = robotConfig(wecom.url).replace("targets:", "server: { rate_limit: { per_ip: 3, per: 1m } }\ntargets:");
    const relay = await startRelay(config);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "A" }]))).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const limited = await relay.post("/api/v1/messages", { receiver: "sre", text: "x" });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await limited.json()) as { error: string }).error).toBe("too many requests from this address");
      expect((await fetch(`${relay.url}/-/healthy`)).status).toBe(200);
      expect(await relay.metric("wecom_relay_requests_rejected_total", { reason: "rate_limited" })).toBe(3);
    } finally {
      await relay.close();
      await wecom.close();
    }
  });

  const forwardedFor = (relay: { url: string }, client: string) =>
    fetch(`${relay.url}/webhook/alertmanager`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": client },
      body: JSON.stringify(alertmanagerPayload([{ name: "Proxied" }])),
    });

  it("behind a trusted proxy, limits each client by X-Forwarded-For instead of the proxy's one address", async () => {
    const wecom = await startFakeWeCom();
    // The test client is the proxy: 127.0.0.1, written as IPv4 or IPv4-mapped IPv6 by the socket.
    const config = robotConfig(wecom.url).replace("targets:", "server: { rate_limit: { per_ip: 2, per: 1m }, trust_proxy: [127.0.0.0/8, '::1'] }\ntargets:");
    const relay = await startRelay(config);
    try {
      const a = [await forwardedFor(relay, "203.0.113.7"), await forwardedFor(relay, "203.0.113.7"), await forwardedFor(relay, "203.0.113.7")];
      const b = [await forwardedFor(relay, "2001:db8::42"), await forwardedFor(relay, "2001:db8::42")];
      expect(a.map((r) => r.status)).toEqual([200, 200, 429]);
      expect(b.map((r) => r.status)).toEqual([200, 200]);
    } finally {
      await relay.close();
      await wecom.close();
    }
  });

  it("ignores a spoofed X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const wecom = await startFakeWeCom();
    const config = robotConfig(wecom.url).replace("targets:", "server: { rate_limit: { per_ip: 2, per: 1m }, trust_proxy: [10.0.0.0/8] }\ntargets:");
    const relay = await startRelay(config);
    try {
      // Each request claims another client; all come from 127.0.0.1, which is not trusted.
      const statuses = [];
      for (const client of ["198.51.100.1", "198.51.100.2", "198.51.100.3"]) statuses.push((await forwardedFor(relay, client)).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await relay.close();
      await wecom.close();
    }
  });

  it("refuses a trust_proxy entry that is not an address or CIDR, at its line", async () => {
    const { parseConfig } = await import("../../src/config/load.js");
    const result = parseConfig(
      "server: { trust_proxy: [10.0.0.0/8, 'proxy.example', '10.0.0.0/33'] }\ntargets: { r: { type: log } }\nreceivers: [{ name: sre, targets: [r] }]\nroute: { receiver: sre }\n",
      "routes.yml",
      {},
    );
    expect("errors" in result && result.errors.map((e) => e.message)).toEqual([
      "must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8",
      "must be an IPv4 or IPv6 address or CIDR, e.g. 10.0.0.0/8",
    ]);
  });
});
