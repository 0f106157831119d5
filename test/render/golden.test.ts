// Every default template × status × format, rendered from the shipped examples, compared
// with a reviewed copy in golden/. After an intended change: UPDATE_GOLDEN=1 npx vitest run
// test/render/golden.test.ts, then read the diff as the on-call engineer would.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DigestItem } from "../../src/delivery/coalesce.js";
import { alertmanagerEvents } from "../../src/sources/alertmanager.js";
import { apiMessage } from "../../src/sources/api.js";
import { githubEvents } from "../../src/sources/github.js";
import { grafanaEvents } from "../../src/sources/grafana.js";
import type { Event, Format } from "../../src/types.js";
import { renderShipped, shippedTemplates } from "../support/shipped-render.js";
import { example, only } from "../support/examples.js";

const GOLDEN_DIR = join(import.meta.dirname, "golden");
const update = process.env.UPDATE_GOLDEN === "1";


const api = apiMessage(example("api-message.json"));
if (!api.ok) throw new Error(api.error);

const EVENTS: Record<string, Event> = {
  "alertmanager-firing": only(alertmanagerEvents(example("alertmanager-firing.json"))),
  "alertmanager-resolved": only(alertmanagerEvents(example("alertmanager-resolved.json"))),
  "grafana-firing": only(grafanaEvents(example("grafana-firing.json"))),
  "grafana-resolved": only(grafanaEvents(example("grafana-resolved.json"))),
  "github-push": only(githubEvents({ event: "push", body: example("github-push.json") })),
  "github-pull_request": only(githubEvents({ event: "pull_request", body: example("github-pull_request.json") })),
  "github-issues": only(githubEvents({ event: "issues", body: example("github-issues.json") })),
  "github-workflow_run": only(githubEvents({ event: "workflow_run", body: example("github-workflow_run.json") })),
  "api-message": api.value.event,
};

const FORMATS: [Format, string][] = [
  ["markdown", "md"],
  ["text", "txt"],
];

/** Each part as sent, with a separator line between parts. */
function rendered(event: Event, format: Format): string {
  const result = renderShipped(event, format);
  expect(result.fallback).toBeUndefined();
  return result.messages.map((message) => message.content).join("\n----- next part -----\n");
}

function matchesGolden(file: string, actual: string): void {
  const path = join(GOLDEN_DIR, file);
  if (update || !existsSync(path)) {
    if (!update) throw new Error(`${path} is missing: run with UPDATE_GOLDEN=1 and review it`);
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(path, `${actual}\n`);
  }
  expect(`${actual}\n`).toBe(readFileSync(path, "utf8"));
}

const URL_PATTERN = /https?:\/\/[^\s)]+/g;

describe("default templates against the golden files", () => {
  for (const [name, event] of Object.entries(EVENTS)) {
    for (const [format, extension] of FORMATS) {
      it(`${name} as ${format}`, () => {
        matchesGolden(`${name}.${extension}`, rendered(event, format));
      });
    }
  }

  it.each(["markdown", "text"] as const)("a digest of every example as %s lists each notification once with an exact count", (format) => {
    const items: DigestItem[] = Object.values(EVENTS).map((event, i) => ({ summary: event.summary, at: Date.parse("2026-11-30T11:00:00Z") + i * 1000 }));
    const content = shippedTemplates().render("digest", format, { count: items.length, receiver: "sre", target: "sre-robot", items });
    expect(content).toContain(`${items.length} notifications (coalesced)`);
    for (const item of items) expect(content.split(item.summary)).toHaveLength(2);
    matchesGolden(`digest.${format === "markdown" ? "md" : "txt"}`, content);
  });
});

describe("what the on-call engineer reads", () => {
  const alertSources = ["alertmanager", "grafana"];

  it.each(alertSources)("%s: the first line says the status; resolved looks resolved", (source) => {
    for (const [format] of FORMATS) {
      const firing = rendered(EVENTS[`${source}-firing`]!, format).split("\n")[0]!;
      const resolved = rendered(EVENTS[`${source}-resolved`]!, format);
      expect(firing).toMatch(/FIRING/);
      expect(resolved.split("\n")[0]).toMatch(/^(## <font color="info">)?✅ .*RESOLVED/);
      expect(resolved).not.toMatch(/🔴|🟠|🟡|color="warning"/);
    }
  });

  it.each(Object.keys(EVENTS))("%s in text prints no long URL (they cannot be labelled there)", (name) => {
    const urls = rendered(EVENTS[name]!, "text").match(URL_PATTERN) ?? [];
    const generatorUrls = JSON.stringify(EVENTS[name]!.data).match(/"generatorURL":"[^"]+"/g) ?? [];
    for (const url of urls) expect(generatorUrls.join()).not.toContain(url);
  });

  it.each(Object.keys(EVENTS))("%s in markdown puts every link behind a label, never bare", (name) => {
    const content = rendered(EVENTS[name]!, "markdown");
    const labelled = [...content.matchAll(/\[[^\]\n]{1,200}\]\((https?:\/\/[^\s)]+)\)/g)].map((m) => m[1]);
    for (const url of content.match(URL_PATTERN) ?? []) expect(labelled).toContain(url);
  });

  it.each(alertSources)("%s: every time carries its zone", (source) => {
    for (const status of ["firing", "resolved"]) {
      for (const [format] of FORMATS) {
        const content = rendered(EVENTS[`${source}-${status}`]!, format);
        const times = content.match(/\b\d{2}:\d{2}\b[^\n]*/g) ?? [];
        expect(times.length).toBeGreaterThan(0);
        for (const line of times) expect(line).toMatch(/[+-]\d{2}:\d{2}/);
      }
    }
  });

  it("shows the runbook and, while firing, a silence link for Alertmanager alerts", () => {
    const markdown = rendered(EVENTS["alertmanager-firing"]!, "markdown");
    expect(markdown).toContain("[runbook](https://runbooks.example.com/disk-full)");
    expect(markdown).toMatch(/\[silence\]\(http:\/\/alertmanager\.example\.com:9093\/#\/silences\/new\?filter=%7Balertname%3D%22DiskFull%22%7D\)/);
    expect(rendered(EVENTS["alertmanager-firing"]!, "text")).toContain("runbook: https://runbooks.example.com/disk-full");
  });
});
