import { describe, expect, it } from "vitest";
import { distinctLabels, grafanaEvents, valueText } from "../../src/sources/grafana.js";
import type { Event, Format } from "../../src/types.js";
import { grafanaAlertmanagerFormatPayload, grafanaPayload, type GrafanaAlertSpec } from "../support/grafana-payloads.js";
import { renderShipped } from "../support/shipped-render.js";

function grafanaEvent(body: unknown): Event {
  const parsed = grafanaEvents(body);
  if (!parsed.ok) throw new Error(parsed.error);
  expect(parsed.value).toHaveLength(1);
  return parsed.value[0]!;
}

type AlertData = { valueText: string; distinctLabels: string; dashboardURL: string; silenceURL: string; values: Record<string, number> };

describe("grafana source", () => {
  it("turns a Grafana version 1 body into an event labelled like an Alertmanager group", () => {
    const event = grafanaEvent(grafanaPayload([{ name: "DiskFull" }, { name: "DiskFull", host: "db2" }]));
    expect(event.source).toBe("grafana");
    expect(event.status).toBe("firing");
    expect(event.labels).toEqual({
      alertname: "DiskFull",
      grafana_folder: "infra",
      severity: "critical",
      receiver: "wecom-infra",
      source: "grafana",
      status: "firing",
    });
    expect(event.summary).toBe("[FIRING:2] DiskFull · Disk usage on db1 is above 90%");
  });

  it("keeps Grafana's own fields for templates: title, state, message, orgId and per-alert links and values", () => {
    const event = grafanaEvent(grafanaPayload([{ name: "DiskFull" }]));
    expect(event.data).toMatchObject({ version: "1", title: "[FIRING:1] DiskFull infra", state: "alerting", orgId: 1, firingCount: 1, resolvedCount: 0 });
    expect(event.data.message).toContain("Firing");
    const [alert] = event.data.firing as AlertData[];
    expect(alert).toMatchObject({ values: { B: 95.2, C: 1 }, valueText: "B=95.2, C=1", distinctLabels: "host=db1", ruleUID: "ddiskfull" });
    expect(alert!.dashboardURL).toContain("/d/node-exporter");
    expect(alert!.silenceURL).toContain("/alerting/silence/new");
  });

  it("accepts the Alertmanager-format version 4 body from Grafana's compatible integration", () => {
    const event = grafanaEvent(grafanaAlertmanagerFormatPayload([{ name: "DiskFull", status: "resolved" }]));
    expect(event.source).toBe("grafana");
    expect(event.labels).toMatchObject({ source: "grafana", status: "resolved", receiver: "wecom-infra", alertname: "DiskFull" });
    expect(event.data.version).toBe("4");
    expect(event.data.title).toBeUndefined();
    const [alert] = event.data.resolved as AlertData[];
    expect(alert).toMatchObject({ valueText: "", distinctLabels: "host=db1" });
  });

  it("treats a rule without values or links as empty, not as an error", () => {
    const body = grafanaPayload([{ name: "NoData", values: null, dashboard: false }]);
    const alert = (grafanaEvent(body).data.firing as AlertData[])[0]!;
    expect(alert).toMatchObject({ values: {}, valueText: "", dashboardURL: "", panelURL: "" });
  });

  it("gives the same id to the same notification and another to a changed one", () => {
    const a = grafanaEvent(grafanaPayload([{ name: "DiskFull" }]));
    const b = grafanaEvent(grafanaPayload([{ name: "DiskFull" }]));
    const c = grafanaEvent(grafanaPayload([{ name: "DiskFull", status: "resolved" }]));
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
  });

  it.each([
    ["missing", undefined, "it is missing"],
    ["an unknown string", "2", 'got "2"'],
    ["a number", 1, "got 1"],
  ])("rejects a version that is %s, naming the field and both accepted versions", (_what, version, got) => {
    const body: Record<string, unknown> = { ...grafanaPayload([{ name: "A" }]), version };
    if (version === undefined) delete body.version;
    const parsed = grafanaEvents(body);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe("version");
    expect(parsed.error).toContain('"1"');
    expect(parsed.error).toContain('"4"');
    expect(parsed.error).toContain(got);
  });

  it.each([
    ["a missing receiver", (b: Record<string, unknown>) => delete b.receiver, "receiver"],
    ["an empty alerts array", (b: Record<string, unknown>) => (b.alerts = []), "alerts"],
    ["a non-number value", (b: Record<string, unknown>) => ((b.alerts as { values: unknown }[])[0]!.values = { B: "high" }), "alerts[0].values.B"],
    ["a dashboard URL that is not a string", (b: Record<string, unknown>) => ((b.alerts as { dashboardURL: unknown }[])[0]!.dashboardURL = 5), "alerts[0].dashboardURL"],
    ["a string orgId", (b: Record<string, unknown>) => (b.orgId = "1"), "orgId"],
  ])("rejects a version 1 body with %s, naming the field", (_what, mutate, field) => {
    const body = grafanaPayload([{ name: "A" }]) as unknown as Record<string, unknown>;
    mutate(body);
    const parsed = grafanaEvents(body);
    expect(parsed).toMatchObject({ ok: false, field });
  });

  it("rejects a version 4 body without alerts, naming the field", () => {
    const body = { ...grafanaAlertmanagerFormatPayload([{ name: "A" }]), alerts: undefined };
    expect(grafanaEvents(body)).toMatchObject({ ok: false, field: "alerts" });
  });

  it.each([null, [], "text"])("rejects a body that is not an object: %j", (body) => {
    expect(grafanaEvents(body)).toMatchObject({ ok: false, field: "(body)" });
  });

  it("writes query values rounded for reading", () => {
    expect(valueText({ B: 95.20000000001, C: 1, D: 0.000123456, E: -12.34567, F: null })).toBe("B=95.2, C=1, D=0.000123, E=-12.346, F=null");
  });

  it("lists only the labels that differ from the group's common labels", () => {
    expect(distinctLabels({ alertname: "A", host: "db1", mount: "/data" }, { alertname: "A", host: "db2" })).toBe("host=db1, mount=/data");
  });
});

function render(specs: GrafanaAlertSpec[], format: Format, build: (specs: GrafanaAlertSpec[]) => unknown = grafanaPayload): string {
  const rendered = renderShipped(grafanaEvent(build(specs)), format);
  expect(rendered.fallback).toBeUndefined();
  expect(rendered.messages).toHaveLength(1);
  return rendered.content;
}

describe("grafana templates", () => {
  it("renders a firing notification with Grafana's title, values, summary, description and links (markdown)", () => {
    const content = render([{ name: "DiskFull", image: true }], "markdown");
    const lines = content.split("\n");
    expect(lines[0]).toBe('## <font color="warning">🔴 [FIRING:1] DiskFull infra</font>');
    expect(content).toContain("🔴 **DiskFull** · `host=db1`");
    expect(content).toContain("> `B=95.2, C=1`");
    expect(content).toContain("> Disk usage on db1 is above 90%");
    expect(content).toContain("> The data volume fills up. Expand it or clean old WAL files.");
    expect(content).toMatch(/since 06-01 16:00 \+08:00.*\[dashboard\]\(https:\/\/grafana\.example\.com\/d\/node-exporter/);
    expect(content).toContain("&viewPanel=12)");
    expect(content).toContain("[image](https://grafana.example.com/public/img/attachments/abc123.png)");
    expect(content).toContain("[silence](https://grafana.example.com/alerting/silence/new?");
    expect(lines.at(-1)).toBe("[Grafana](https://grafana.example.com/)");
  });

  it("renders a firing notification as plain text with the dashboard link only: text cannot label links", () => {
    const content = render([{ name: "DiskFull", image: true }], "text");
    expect(content.split("\n")[0]).toBe("🔴 [FIRING:1] DiskFull infra");
    expect(content).toContain("  B=95.2, C=1");
    expect(content).toContain("  dashboard: https://grafana.example.com/d/node-exporter");
    expect(content).not.toContain("panel:");
    expect(content).not.toContain("image:");
    expect(content).not.toContain("silence:");
    expect(content).not.toMatch(/<font|\*\*|\]\(/);
  });

  it.each(["markdown", "text"] as const)("leaves out links and values Grafana sent empty (%s)", (format) => {
    const content = render([{ name: "NoData", values: null, dashboard: false }], format);
    expect(content).not.toContain("dashboard");
    expect(content).not.toContain("panel");
    expect(content).not.toContain("image");
    expect(content).not.toContain("=95.2");
    // Without a dashboard the alert rule itself is the useful link.
    expect(content).toContain("alerting/grafana/ddiskfull/view");
  });

  it.each(["markdown", "text"] as const)("renders a resolved notification with start and end times (%s)", (format) => {
    const content = render([{ name: "DiskFull", status: "resolved" }], format);
    expect(content.split("\n")[0]).toContain("[RESOLVED] DiskFull infra");
    expect(content).toContain("✅");
    expect(content).toContain("06-01 16:00 → 16:30 +08:00 (30m)");
    expect(content).not.toContain("🔴");
    expect(content).not.toContain("since");
    expect(content).not.toContain("silence");
  });

  it("puts firing alerts before the resolved ones of a mixed group", () => {
    const content = render([{ name: "DiskFull", host: "db1" }, { name: "DiskFull", host: "db2", status: "resolved" }], "markdown");
    expect(content.split("\n")[0]).toContain("[FIRING:1, RESOLVED:1]");
    const resolvedHeading = content.indexOf("Resolved</font>**");
    expect(content.indexOf("host=db1")).toBeLessThan(resolvedHeading);
    expect(content.indexOf("host=db2")).toBeGreaterThan(resolvedHeading);
  });

  it.each(["markdown", "text"] as const)("builds a heading for the Alertmanager-format body, which has no title (%s)", (format) => {
    const firing = render([{ name: "DiskFull" }], format, grafanaAlertmanagerFormatPayload);
    const resolved = render([{ name: "DiskFull", status: "resolved" }], format, grafanaAlertmanagerFormatPayload);
    expect(firing.split("\n")[0]).toContain("[FIRING:1] DiskFull");
    expect(resolved.split("\n")[0]).toContain("[RESOLVED:1] DiskFull");
    expect(firing).toContain("Disk usage on db1 is above 90%");
  });
});
