// The Grafana dashboard is checked against what the relay really exports: every metric a
// panel queries must exist in a live /metrics scrape, and every relay metric must appear
// on some panel, so a renamed metric or a new one without a panel fails here.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";
import { DATASOURCE, dashboard, panelExpressions, panels, queryPanels, variableExpressions } from "../support/dashboard.js";
import { familyOf, metricNames, parseExposition, relayFamilies, unansweredMetrics, type Exposition } from "../support/exposition.js";

describe("dashboard structure", () => {
  it("is provisionable under a fixed uid with a Prometheus datasource variable", () => {
    expect(dashboard.uid).toBe("wecom-relay");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }));
  });

  it("lets All stand for every value its variable found, so no other job (Prometheus's own) is selected", () => {
    const variables = dashboard.templating.list.filter((variable) => variable.type === "query");
    expect(variables.map((variable) => variable.name)).toEqual(["job", "instance", "target", "receiver"]);
    for (const variable of variables) expect(variable.allValue, `$${variable.name}`).toBeUndefined();
  });

  it("gives every panel, rows included, a unique id", () => {
    const ids = panels.map((panel) => panel.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("points every panel and every query at the datasource variable", () => {
    for (const panel of queryPanels) {
      expect(panel.datasource, `panel "${panel.title}"`).toEqual(DATASOURCE);
      expect(panel.targets?.length, `panel "${panel.title}" has queries`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.datasource, `panel "${panel.title}" ${target.refId}`).toEqual(DATASOURCE);
    }
  });

  it("gives every query a refId unique within its panel", () => {
    for (const panel of queryPanels) {
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      expect(refIds.every((refId) => typeof refId === "string" && refId.length > 0), `panel "${panel.title}"`).toBe(true);
      expect(new Set(refIds).size, `panel "${panel.title}"`).toBe(refIds.length);
    }
  });

  it("lays every panel out inside the 24-column grid without overlaps", () => {
    const boxes = panels.map((panel) => ({ title: panel.title, ...panel.gridPos! }));
    for (const box of boxes) {
      expect(box.x + box.w, `panel "${box.title}"`).toBeLessThanOrEqual(24);
      expect(box.w * box.h, `panel "${box.title}"`).toBeGreaterThan(0);
    }
    const overlapping = boxes.flatMap((a, i) =>
      boxes
        .slice(i + 1)
        .filter((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
        .map((b) => `${a.title} / ${b.title}`),
    );
    expect(overlapping).toEqual([]);
  });

  it("draws p50, p90 and p99 delivery latency from the histogram buckets", () => {
    const latency = panelExpressions().filter(({ expr }) => expr.includes("wecom_relay_delivery_latency_seconds"));
    for (const quantile of ["0.5", "0.9", "0.99"]) {
      expect(latency.some(({ expr }) => expr.startsWith(`histogram_quantile(${quantile},`) && /by \(target, le\)/.test(expr))).toBe(true);
    }
  });
});

describe("provisioning examples", () => {
  const read = (name: string) => parse(readFileSync(new URL(`../../grafana/provisioning/${name}`, import.meta.url), "utf8")) as Record<string, unknown>;

  it("provide a file provider for the dashboard and a Prometheus datasource", () => {
    expect(read("dashboards.yml")).toMatchObject({ apiVersion: 1, providers: [{ type: "file", options: { path: expect.any(String) } }] });
    expect(read("datasource.yml")).toMatchObject({ apiVersion: 1, datasources: [{ type: "prometheus", url: expect.any(String) }] });
  });
});

describe("metric name checks", () => {
  const exposition = parseExposition(
    [
      "# TYPE wecom_relay_messages_sent_total counter",
      'wecom_relay_messages_sent_total{target="a",result="ok"} 1',
      "# TYPE wecom_relay_delivery_latency_seconds histogram",
      "# TYPE wecom_relay_process_cpu_seconds_total counter",
    ].join("\n"),
  );

  it.each([
    ["a counter the relay exports", "rate(wecom_relay_messages_sent_total{result!=\"ok\"}[5m])", []],
    ["a misspelt metric", "rate(wecom_relay_mesages_sent_total[5m])", ["q: wecom_relay_mesages_sent_total"]],
    ["a histogram's _count", "rate(wecom_relay_delivery_latency_seconds_count[5m])", []],
    ["histogram buckets with no samples", "rate(wecom_relay_delivery_latency_seconds_bucket[5m])", ["q: wecom_relay_delivery_latency_seconds_bucket"]],
    ["_bucket of a counter", "wecom_relay_messages_sent_bucket", ["q: wecom_relay_messages_sent_bucket"]],
  ])("judges %s", (_what, expr, unanswered) => {
    expect(unansweredMetrics([{ where: "q", expr }], exposition)).toEqual(unanswered);
  });

  it("leaves the default process metrics out of the relay's own", () => {
    expect(relayFamilies(exposition)).toEqual(["wecom_relay_messages_sent_total", "wecom_relay_delivery_latency_seconds"]);
  });
});

describe("dashboard against a live relay", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;
  let exposition: Exposition;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    relay = await startRelay(robotConfig(wecom.url));

    // A delivered alert: sent ok, with a latency observation.
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Delivered" }]))).status).toBe(200);
    await wecom.waitForRobotMessages(1);
    await vi.waitFor(async () => expect(await relay.metric("wecom_relay_messages_delivered_total")).toBe(1), { timeout: 10_000 });

    // A rejected request.
    expect((await relay.post("/webhook/alertmanager", "{not json")).status).toBe(400);

    // A failed send: WeCom says the robot is gone, so the message is dead-lettered.
    wecom.failNext(1, { errcode: 93000, errmsg: "invalid webhook url" }, "robot");
    expect((await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Undeliverable" }]))).status).toBe(200);
    await vi.waitFor(async () => expect(await relay.metric("wecom_relay_dead_letters_total")).toBe(1), { timeout: 10_000 });

    expect((await fetch(`${relay.url}/-/reload`, { method: "POST" })).status).toBe(200);
    exposition = parseExposition(await (await fetch(`${relay.url}/metrics`)).text());
  });

  afterAll(async () => {
    await relay?.close();
    await wecom?.close();
  });

  it("records the driven traffic in the series the main panels draw", () => {
    for (const name of [
      "wecom_relay_events_received_total",
      "wecom_relay_requests_rejected_total",
      "wecom_relay_messages_delivered_total",
      "wecom_relay_send_attempts_total",
      "wecom_relay_wecom_errors_total",
      "wecom_relay_dead_letters_total",
      "wecom_relay_delivery_latency_seconds_bucket",
      "wecom_relay_outbox_depth",
      "wecom_relay_config_reloads_total",
    ]) {
      expect(exposition.sampled.has(name), name).toBe(true);
    }
  });

  it("queries only metrics the relay exports", () => {
    expect(unansweredMetrics([...panelExpressions(), ...variableExpressions()], exposition)).toEqual([]);
  });

  it("shows every relay metric on some panel", () => {
    const queried = new Set(panelExpressions().flatMap(({ expr }) => metricNames(expr).map((name) => familyOf(name, exposition))));
    const relayMetrics = relayFamilies(exposition);
    expect(relayMetrics.length).toBeGreaterThan(10);
    expect(relayMetrics.filter((name) => !queried.has(name))).toEqual([]);
  });
});
