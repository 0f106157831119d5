import { describe, expect, it } from "vitest";
import { alertGroupSummary, alertmanagerEvents, unquoteMeta } from "../../src/sources/alertmanager.js";
import { alert, alertmanagerPayload } from "../support/payloads.js";

describe("alertmanager source", () => {
  it("turns a firing notification into one event with common labels, receiver, source and status", () => {
    const body = alertmanagerPayload([{ name: "HighLatency", severity: "critical" }], { receiver: "ops\\.wecom" });
    const parsed = alertmanagerEvents(body);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const [event] = parsed.value;
    expect(parsed.value).toHaveLength(1);
    expect(event!.labels).toEqual({
      alertname: "HighLatency",
      severity: "critical",
      receiver: "ops.wecom",
      source: "alertmanager",
      status: "firing",
    });
    expect(event!.status).toBe("firing");
    expect(event!.data.firingCount).toBe(1);
    expect(event!.data.resolvedCount).toBe(0);
    expect(event!.summary).toBe("[FIRING:1] HighLatency · 10.0.0.5:8080 · HighLatency summary");
  });

  it("splits firing and resolved alerts of a mixed group for templates", () => {
    const body = alertmanagerPayload([{ name: "A" }, { name: "B", status: "resolved" }, { name: "A" }]);
    const parsed = alertmanagerEvents(body);
    if (!parsed.ok) throw new Error(parsed.error);
    const data = parsed.value[0]!.data as { firing: unknown[]; resolved: unknown[] };
    expect(data.firing).toHaveLength(2);
    expect(data.resolved).toHaveLength(1);
    expect(parsed.value[0]!.summary).toBe("[FIRING:2, RESOLVED:1] A, B · 10.0.0.5:8080 · A summary");
  });

  it("keeps the relay's own source and status labels over same-named common labels", () => {
    const body = alertmanagerPayload([{ name: "A" }], { commonLabels: { alertname: "A", source: "spoofed", status: "resolved" } });
    const parsed = alertmanagerEvents(body);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.value[0]!.labels.source).toBe("alertmanager");
    expect(parsed.value[0]!.labels.status).toBe("firing");
  });

  it("gives the same id to the same notification and a different one to a changed notification", () => {
    const body = alertmanagerPayload([{ name: "A" }]);
    const again = alertmanagerEvents(structuredClone(body));
    const first = alertmanagerEvents(body);
    const changed = alertmanagerEvents(alertmanagerPayload([{ name: "A", status: "resolved" }]));
    if (!first.ok || !again.ok || !changed.ok) throw new Error("parse failed");
    expect(again.value[0]!.id).toBe(first.value[0]!.id);
    expect(changed.value[0]!.id).not.toBe(first.value[0]!.id);
  });

  it.each([
    ["a missing alerts array", (b: Record<string, unknown>) => delete b.alerts, "alerts"],
    ["an empty alerts array", (b: Record<string, unknown>) => (b.alerts = []), "alerts"],
    ["a wrong version", (b: Record<string, unknown>) => (b.version = "3"), "version"],
    ["a non-string label value", (b: Record<string, unknown>) => ((b.alerts as { labels: unknown }[])[0]!.labels = { a: 1 }), "alerts[0].labels.a"],
    ["an unknown alert status", (b: Record<string, unknown>) => ((b.alerts as { status: string }[])[0]!.status = "pending"), "alerts[0].status"],
    ["a missing receiver", (b: Record<string, unknown>) => delete b.receiver, "receiver"],
  ])("rejects %s, naming the field", (_what, mutate, field) => {
    const body = alertmanagerPayload([{ name: "A" }]) as unknown as Record<string, unknown>;
    mutate(body);
    const parsed = alertmanagerEvents(body);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe(field);
    expect(parsed.error.startsWith(`${field}: `)).toBe(true);
  });

  it.each([null, 42, "text", [], [alert({ name: "A" })]])("rejects a body that is not an object: %j", (body) => {
    const parsed = alertmanagerEvents(body);
    expect(parsed.ok).toBe(false);
  });

  it("accepts unknown fields from newer Alertmanager versions and passes them to templates", () => {
    const body = { ...alertmanagerPayload([{ name: "A" }]), notification_reason: "first notification" };
    const parsed = alertmanagerEvents(body);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.value[0]!.data.notification_reason).toBe("first notification");
  });

  it("unquotes receiver names escaped by regexp.QuoteMeta", () => {
    expect(unquoteMeta("ops\\.wecom\\-1")).toBe("ops.wecom-1");
    expect(unquoteMeta("plain")).toBe("plain");
  });

  it("names every distinct alert in the summary", () => {
    const alerts = ["X", "Y", "X", "Z"].map((name) => alert({ name }));
    expect(alertGroupSummary(alerts as never)).toBe("[FIRING:4] X, Y, Z · 10.0.0.5:8080 · X summary");
  });

  it("names up to three instances, counts the rest, and shortens a long summary to one line", () => {
    const alerts = Array.from({ length: 5 }, (_, i) =>
      alert({ name: "DiskFull", labels: { instance: `node-${i}:9100` }, summary: `disk\nfull ${"x".repeat(100)}` }),
    );
    const summary = alertGroupSummary(alerts as never);
    expect(summary).toBe(`[FIRING:5] DiskFull · node-0:9100, node-1:9100, node-2:9100 +2 · disk full ${"x".repeat(70)}…`);
  });
});
