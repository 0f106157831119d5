import { beforeAll, describe, expect, it } from "vitest";
import { renderMessages, type RenderTarget } from "../../src/render/render.js";
import { loadTemplates, shippedTemplatesDir, type TemplateSet } from "../../src/render/templates.js";
import { alertmanagerEvents } from "../../src/sources/alertmanager.js";
import type { Event, Format, Match } from "../../src/types.js";

let templates: TemplateSet;

beforeAll(() => {
  const loaded = loadTemplates({ dirs: [shippedTemplatesDir()], timezone: "Asia/Shanghai" });
  if ("errors" in loaded) throw new Error(JSON.stringify(loaded.errors));
  templates = loaded.templates;
});

const robot: RenderTarget = { name: "sre-robot", kind: "robot" };
const app: RenderTarget = { name: "ops-app", kind: "app" };
const ZERO_TIME = "0001-01-01T00:00:00Z";

interface AlertInput {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

function alertmanagerEvent(status: "firing" | "resolved", alerts: AlertInput[], extra: Record<string, unknown> = {}): Event {
  const payload = {
    version: "4",
    groupKey: '{}/{severity="critical"}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
    status,
    receiver: "wecom\\.oncall",
    groupLabels: { alertname: "HighLatency" },
    commonLabels: { alertname: "HighLatency", severity: "critical", job: "api" },
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts: alerts.map((alert, i) => ({
      annotations: {},
      startsAt: "2025-06-01T08:00:00Z",
      endsAt: ZERO_TIME,
      generatorURL: `http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%29&alert=${i}`,
      fingerprint: `5d1f0a3c9b7e2a${String(i).padStart(2, "0")}`,
      ...alert,
    })),
    ...extra,
  };
  const parsed = alertmanagerEvents(payload);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed));
  const [event] = parsed.value;
  if (event === undefined) throw new Error("no event");
  return event;
}

function highLatency(instance: string, status: "firing" | "resolved" = "firing"): AlertInput {
  return {
    status,
    labels: { alertname: "HighLatency", severity: "critical", job: "api", instance },
    annotations: {
      summary: `p99 latency > 2s on ${instance}`,
      description: "Latency has been above 2s for 5 minutes.\nCheck the api dashboard.",
    },
    ...(status === "resolved" ? { endsAt: "2025-06-01T08:30:00Z" } : {}),
  };
}

function render(event: Event, format: Format, targets: RenderTarget[] = [robot]) {
  const match: Match = { receiver: "sre", template: event.source, format, mention: [], route: "route" };
  const result = renderMessages(event, match, targets, templates);
  expect(result.fallback).toBeUndefined();
  return result.messages;
}

function only(messages: { content: string }[]): string {
  expect(messages).toHaveLength(1);
  return messages[0]?.content ?? "";
}

describe("alertmanager.md.hbs", () => {
  it("renders a firing group with status, counts, severity, every alert and links", () => {
    const content = only(render(alertmanagerEvent("firing", [highLatency("10.0.0.5:8080"), highLatency("10.0.0.6:8080")]), "markdown"));
    const lines = content.split("\n");
    expect(lines[0]).toBe('## <font color="warning">🔴 [FIRING:2] HighLatency</font>');
    expect(lines[1]).toBe('<font color="comment">critical · wecom.oncall</font>');
    expect(content).toContain("🔴 **HighLatency** · `10.0.0.5:8080`");
    expect(content).toContain("🔴 **HighLatency** · `10.0.0.6:8080`");
    expect(content).toContain("> p99 latency > 2s on 10.0.0.5:8080");
    // Multi-line descriptions stay inside the quote.
    expect(content).toContain("> Latency has been above 2s for 5 minutes. Check the api dashboard.");
    // 08:00Z in Asia/Shanghai, with its zone; the long Prometheus URL behind a short label.
    expect(content).toContain('> <font color="comment">since 06-01 16:00 +08:00</font> · [source](http://prometheus:9090/graph?g0.expr=histogram_quantile%280.99%29&alert=0)');
    expect(lines.at(-1)).toBe(
      "[silence](http://alertmanager:9093/#/silences/new?filter=%7Balertname%3D%22HighLatency%22%7D) · [Alertmanager](http://alertmanager:9093)",
    );
    expect(content).not.toContain("0001");
    expect(content).not.toContain("&amp;");
  });

  it("renders a resolved group in the info colour with start and end times", () => {
    const content = only(render(alertmanagerEvent("resolved", [highLatency("10.0.0.5:8080", "resolved")]), "markdown"));
    expect(content.split("\n")[0]).toBe('## <font color="info">✅ [RESOLVED:1] HighLatency</font>');
    expect(content).toContain("✅ **HighLatency** · `10.0.0.5:8080`");
    expect(content).toContain('<font color="comment">06-01 16:00 → 16:30 +08:00 (30m)</font>');
    // Resolved looks resolved: no red mark, no warning colour, no silence link.
    expect(content).not.toContain("🔴");
    expect(content).not.toContain("warning");
    expect(content).not.toContain("since");
    expect(content).not.toContain("[silence]");
  });

  it("lists firing alerts first, then the resolved ones of a mixed group", () => {
    const content = only(
      render(alertmanagerEvent("firing", [highLatency("10.0.0.5:8080"), highLatency("10.0.0.6:8080", "resolved")]), "markdown"),
    );
    expect(content.split("\n")[0]).toBe(
      '## <font color="warning">🔴 [FIRING:1] [RESOLVED:1] HighLatency</font>',
    );
    const resolvedHeading = content.indexOf('**<font color="info">Resolved</font>**');
    expect(content.indexOf("10.0.0.5:8080")).toBeLessThan(resolvedHeading);
    expect(content.indexOf("10.0.0.6:8080")).toBeGreaterThan(resolvedHeading);
  });

  it("says how many alerts Alertmanager left out", () => {
    const content = only(render(alertmanagerEvent("firing", [highLatency("a:1")], { truncatedAlerts: 7 }), "markdown"));
    expect(content).toContain("> 7 more alerts left out by Alertmanager (max_alerts)");
  });

  it("renders an alert with only an alertname without empty quote lines", () => {
    const content = only(render(alertmanagerEvent("firing", [{ status: "firing", labels: { alertname: "Watchdog" } }], { commonLabels: { alertname: "Watchdog" }, groupLabels: {}, externalURL: "" }), "markdown"));
    expect(content).toContain("⚪ **Watchdog**");
    expect(content).not.toMatch(/^> ?$/m);
    expect(content).not.toContain("[Alertmanager]");
    expect(content).not.toContain("[silence]");
  });

  it("splits a storm of 50 alerts into a few parts that each fit, keeping every alert", () => {
    const alerts = Array.from({ length: 50 }, (_, i) => highLatency(`10.0.${Math.floor(i / 10)}.${i}:8080`));
    const messages = render(alertmanagerEvent("firing", alerts), "markdown", [robot, app]);
    const robotParts = messages.filter((m) => m.target === "sre-robot");
    const appParts = messages.filter((m) => m.target === "ops-app");
    expect(robotParts.length).toBeGreaterThan(1);
    // The part marker goes inside the heading so it still renders as one.
    expect(robotParts[0]?.content.startsWith(`## (1/${robotParts.length}) <font color="warning">🔴 [FIRING:50] HighLatency</font>`)).toBe(true);
    expect(robotParts.length).toBeLessThanOrEqual(6);
    expect(appParts.length).toBeLessThanOrEqual(12);
    for (const m of robotParts) expect(Buffer.byteLength(m.content)).toBeLessThanOrEqual(4096);
    for (const m of appParts) expect(Buffer.byteLength(m.content)).toBeLessThanOrEqual(2048);
    for (const parts of [robotParts, appParts]) {
      const all = parts.map((m) => m.content).join("\n");
      for (let i = 0; i < 50; i++) expect(all).toContain(`\`10.0.${Math.floor(i / 10)}.${i}:8080\``);
    }
  });
});

describe("alertmanager.txt.hbs", () => {
  it("renders a firing group as plain text with the same content", () => {
    const content = only(render(alertmanagerEvent("firing", [highLatency("10.0.0.5:8080")]), "text"));
    expect(content).toBe(
      [
        "🔴 [FIRING:1] HighLatency",
        "critical · wecom.oncall",
        "",
        "🔴 HighLatency · 10.0.0.5:8080",
        "  p99 latency > 2s on 10.0.0.5:8080",
        "  Latency has been above 2s for 5 minutes. Check the api dashboard.",
        "  since 06-01 16:00 +08:00",
        "",
        // Text cannot label a link: the long per-alert Prometheus URL is left out.
        "silence: http://alertmanager:9093/#/silences/new?filter=%7Balertname%3D%22HighLatency%22%7D",
      ].join("\n"),
    );
  });

  it("renders a resolved group as plain text with start and end times", () => {
    const content = only(render(alertmanagerEvent("resolved", [highLatency("10.0.0.5:8080", "resolved")]), "text"));
    expect(content.split("\n")[0]).toBe("✅ [RESOLVED:1] HighLatency");
    expect(content).toContain("✅ HighLatency · 10.0.0.5:8080");
    expect(content).toContain("  06-01 16:00 → 16:30 +08:00 (30m)");
    expect(content).not.toContain("🔴");
    expect(content).not.toContain("silence");
    expect(content).not.toMatch(/<font|\*\*/);
  });
});

function apiEvent(data: Record<string, unknown>): Event {
  return { id: "api-1", source: "api", labels: { source: "api" }, data, summary: "api message" };
}

describe("api templates", () => {
  const data = { title: "Deploy finished", text: "billing v2.3.1 is live", env: "prod", tags: ["blue", "green"], meta: { by: "ci" } };

  it("renders the title, the text, then every other field in markdown", () => {
    expect(only(render(apiEvent(data), "markdown"))).toBe(
      ["### Deploy finished", "billing v2.3.1 is live", "**env**: prod", "**tags**: blue, green", '**meta**: {"by":"ci"}'].join("\n"),
    );
  });

  it("renders the same as plain text, using content when there is no text", () => {
    expect(only(render(apiEvent({ content: "hello", count: 3 }), "text"))).toBe("hello\ncount: 3");
  });
});

describe("digest templates", () => {
  const items = Array.from({ length: 30 }, (_, i) => ({
    summary: `[FIRING:1] Alert${i}`,
    at: `2025-06-01T08:${String(i).padStart(2, "0")}:00Z`,
  }));
  const digest: Event = {
    id: "digest-1",
    source: "api",
    labels: { source: "api" },
    data: { count: 30, receiver: "sre", target: "sre-robot", items },
    summary: "30 notifications (coalesced)",
  };

  it.each(["markdown", "text"] as const)("lists every coalesced item in %s", (format) => {
    const match: Match = { receiver: "sre", template: "digest", format, mention: [], route: "digest" };
    const result = renderMessages(digest, match, [app], templates);
    expect(result.fallback).toBeUndefined();
    const content = result.messages.map((m) => m.content).join("\n");
    expect(content).toContain("30 notifications (coalesced)");
    expect(content).toContain("sre → sre-robot · times +08:00");
    for (let i = 0; i < 30; i++) {
      expect(content).toContain(`16:${String(i).padStart(2, "0")}:00`);
      expect(content).toMatch(new RegExp(`\\[FIRING:1\\] Alert${i}$`, "m"));
    }
  });
});
