// What a payload may do to a message rendered with the shipped templates: nothing but fill
// in text. It may not ping anyone (<@userid>), start a markdown line of its own (a forged
// "## [RESOLVED] all clear" heading), or turn into a non-http(s) link.
import { describe, expect, it } from "vitest";
import { neutralizeMentions } from "../../src/render/render.js";
import { alertmanagerEvents } from "../../src/sources/alertmanager.js";
import { apiMessage } from "../../src/sources/api.js";
import { githubEvents } from "../../src/sources/github.js";
import { grafanaEvents } from "../../src/sources/grafana.js";
import type { Event, Format } from "../../src/types.js";
import {
  checkRunPayload,
  codeScanningAlertPayload,
  dependabotAlertPayload,
  deploymentStatusPayload,
  issueCommentPayload,
  issuesPayload,
  pullRequestPayload,
  pullRequestReviewPayload,
  pushPayload,
  releasePayload,
  secretScanningAlertPayload,
  starPayload,
  workflowJobPayload,
  workflowRunPayload,
} from "../support/github-payloads.js";
import { grafanaAlertmanagerFormatPayload, grafanaPayload } from "../support/grafana-payloads.js";
import { renderShipped, shippedTemplates } from "../support/shipped-render.js";
import { example, only } from "../support/examples.js";

type Json = unknown;
type Path = (string | number)[];


function api(body: Json): Event {
  const parsed = apiMessage(body);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value.event;
}

/** A copy of `value` with the value at `path` replaced. */
function replaceAt(value: Json, path: Path, replacement: Json): Json {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, Json>;
  copy[head!] = replaceAt(copy[head!], rest, replacement);
  return copy;
}

function at(value: Json, path: Path): Json {
  return path.reduce<Json>((item, key) => (item as Record<string | number, Json>)[key], value);
}

/** Every path to a string inside `value`. */
function stringPaths(value: Json, prefix: Path = []): Path[] {
  if (typeof value === "string") return [prefix];
  if (Array.isArray(value)) return value.flatMap((item, i) => stringPaths(item, [...prefix, i]));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([key, item]) => stringPaths(item, [...prefix, key]));
  return [];
}

const FORMATS: Format[] = ["markdown", "text"];

/** Line breaks as CommonMark knows them, and the ones a regex-based renderer treats as such. */
const LINE_BREAK = /\r\n|[\n\r\u2028\u2029\u0085]/;

/** The lines of `content` that a forged "## …" marker starts (after indentation or a quote). */
function forgedLines(content: string, marker = "forged"): string[] {
  return content.split(LINE_BREAK).filter((line) => new RegExp(`^[\\s>]*#+\\s*${marker}`).test(line));
}

/** An Alertmanager alert and group like the examples, with what a test changes. */
const amAlert = (labels: Record<string, string>, annotations: Record<string, string> = {}) => ({
  status: "firing",
  labels: { alertname: "DiskFull", severity: "critical", ...labels },
  annotations: { summary: "disk almost full", ...annotations },
  startsAt: "2025-06-01T08:00:00Z",
  endsAt: "0001-01-01T00:00:00Z",
  generatorURL: "http://prometheus:9090/graph?g0.expr=up",
  fingerprint: "0123456789abcdef",
});
const amPayload = (alert: Json, extra: Record<string, unknown> = {}) => ({
  version: "4",
  groupKey: "{}:{alertname=\"DiskFull\"}",
  truncatedAlerts: 0,
  status: "firing",
  receiver: "sre",
  groupLabels: { alertname: "DiskFull" },
  commonLabels: { alertname: "DiskFull", severity: "critical" },
  commonAnnotations: {},
  externalURL: "http://alertmanager:9093",
  alerts: [alert],
  ...extra,
});

describe("mentions in keys", () => {
  it("an API field named <@userid> does not ping in markdown", () => {
    const event = api({ receiver: "sre", template: "api", data: { "<@zhangsan>": "x" } });
    const { content, fallback } = renderShipped(event, "markdown");
    expect(fallback).toBeUndefined();
    expect(content).not.toContain("<@zhangsan>");
    expect(content).toBe("**<\u200b@zhangsan>**: x");
  });

  it("neutralizes keys at any depth, and copies only what changes", () => {
    const untouched = { a: "plain" };
    const data = { nested: { "<@boss>": { "<@ops>": 1 } }, untouched };
    const safe = neutralizeMentions(data);
    expect(JSON.stringify(safe)).not.toMatch(/<@(boss|ops)>/);
    expect(Object.keys(safe.nested)).toEqual(["<\u200b@boss>"]);
    expect(safe.untouched).toBe(untouched);
    expect(Object.keys(data.nested)).toEqual(["<@boss>"]); // the event's data is left as it was
    const plain = { a: { b: ["c"] } };
    expect(neutralizeMentions(plain)).toBe(plain);
  });
});

describe("a newline in a payload value does not start a markdown line", () => {
  const FORGED = "x\n## [RESOLVED] all clear";

  function expectNoForgedHeading(event: Event): void {
    for (const format of FORMATS) {
      const { content, fallback } = renderShipped(event, format);
      expect(fallback).toBeUndefined();
      expect(content).toContain("x ## [RESOLVED] all clear");
      expect(forgedLines(content, "\\[RESOLVED\\] all clear")).toEqual([]);
    }
  }


  it("from a label value (alertmanager)", () => {
    expectNoForgedHeading(only(alertmanagerEvents(amPayload(amAlert({ instance: FORGED })))));
  });

  it("from the alert name (alertmanager, grouped by it)", () => {
    const payload = amPayload(amAlert({ alertname: FORGED }), { groupLabels: { alertname: FORGED }, commonLabels: { alertname: FORGED } });
    expectNoForgedHeading(only(alertmanagerEvents(payload)));
  });

  it("from a summary annotation (alertmanager)", () => {
    expectNoForgedHeading(only(alertmanagerEvents(amPayload(amAlert({ instance: "node-1" }, { summary: FORGED })))));
  });

  it("from a label value (grafana)", () => {
    const payload = grafanaPayload([{ name: "DiskFull", host: FORGED }, { name: "DiskFull", host: "db2" }]);
    expectNoForgedHeading(only(grafanaEvents(payload)));
  });

  it("from the alert name (grafana, Alertmanager format)", () => {
    expectNoForgedHeading(only(grafanaEvents(grafanaAlertmanagerFormatPayload([{ name: FORGED }]))));
  });

  it("from a summary annotation (grafana)", () => {
    expectNoForgedHeading(only(grafanaEvents(grafanaPayload([{ name: "DiskFull", summary: FORGED }]))));
  });

  it.each([
    ["pull_request", { ...pullRequestPayload("opened"), pull_request: { ...pullRequestPayload("opened").pull_request, title: FORGED } }],
    ["issues", { ...issuesPayload("opened"), issue: { ...issuesPayload("opened").issue, title: FORGED } }],
    ["workflow_run", { ...workflowRunPayload("failure"), workflow_run: { ...workflowRunPayload("failure").workflow_run, name: FORGED } }],
    ["check_run", { ...checkRunPayload("failure"), check_run: { ...checkRunPayload("failure").check_run, name: FORGED } }],
  ])("from a GitHub %s title", (name, body) => {
    expectNoForgedHeading(only(githubEvents({ event: name, body })));
  });

  it("from an API field's value or name, while the API's text may be markdown of its own", () => {
    expectNoForgedHeading(api({ receiver: "sre", template: "api", data: { title: FORGED, env: FORGED, [FORGED]: "prod" } }));
    const ownMarkdown = api({ receiver: "sre", markdown: "deploy done\n## next steps\n- none" });
    expect(renderShipped(ownMarkdown, "markdown").content).toBe("deploy done\n## next steps\n- none");
  });

  it("from a digest item's summary", () => {
    for (const format of FORMATS) {
      const items = [{ summary: FORGED, at: "2025-06-01T08:00:00Z" }];
      const content = shippedTemplates().render("digest", format, { count: 1, receiver: "sre", target: "sre-robot", items });
      expect(forgedLines(content, "\\[RESOLVED\\] all clear")).toEqual([]);
    }
  });

  it("from a label value or the summary in the plain fallback, sent when a template fails", () => {
    const event: Event = { id: "e", source: "api", labels: { source: "api", owner: FORGED }, data: {}, summary: FORGED };
    for (const format of FORMATS) {
      const { content, fallback } = renderShipped(event, format, { template: "missing" });
      expect(fallback).toBeDefined();
      expect(content).toBe("x ## [RESOLVED] all clear\nsource=api\nowner=x ## [RESOLVED] all clear");
    }
  });

  // Every string the payloads below hold, one at a time, gets line breaks followed by a
  // heading. Only the API's text and content are blocks by design (the caller's markdown).
  const MARKER = "\n## forged-lf\r## forged-cr\u2028## forged-ls";
  const examples: Array<[string, Json, (payload: Json) => Event, (path: Path) => boolean]> = [
    ["alertmanager firing", example("alertmanager-firing.json"), (p) => only(alertmanagerEvents(p)), () => true],
    ["alertmanager resolved", example("alertmanager-resolved.json"), (p) => only(alertmanagerEvents(p)), () => true],
    ["grafana firing", example("grafana-firing.json"), (p) => only(grafanaEvents(p)), () => true],
    ["grafana resolved", example("grafana-resolved.json"), (p) => only(grafanaEvents(p)), () => true],
    ["grafana (Alertmanager format)", grafanaAlertmanagerFormatPayload([{ name: "DiskFull" }, { name: "CPU", status: "resolved" }]), (p) => only(grafanaEvents(p)), () => true],
    [
      "api",
      { receiver: "sre", template: "api", data: { title: "Deploy", text: "done", env: "prod", tags: ["a", "b"], meta: { by: "ci" } } },
      api,
      (path) => !(path[0] === "data" && (path[1] === "text" || path[1] === "content")),
    ],
    ...(
      [
        ["push", pushPayload()],
        ["push", pushPayload({ created: true, commits: 0 })],
        ["push", pushPayload({ deleted: true, commits: 0 })],
        ["pull_request", pullRequestPayload("opened")],
        ["pull_request", { ...pullRequestPayload("review_requested"), requested_reviewer: { login: "hubot" } }],
        ["pull_request", { ...pullRequestPayload("review_requested"), requested_team: { name: "payments" } }],
        ["pull_request", { ...pullRequestPayload("labeled"), label: { name: "bug" } }],
        ["pull_request_review", pullRequestReviewPayload("commented")],
        ["issues", { ...issuesPayload("opened"), assignee: { login: "mona" } }],
        ["issue_comment", issueCommentPayload()],
        ["release", releasePayload()],
        ["workflow_run", workflowRunPayload("failure")],
        ["workflow_job", workflowJobPayload("failure")],
        ["check_run", checkRunPayload("failure")],
        ["deployment_status", deploymentStatusPayload("failure")],
        ["dependabot_alert", dependabotAlertPayload()],
        ["code_scanning_alert", codeScanningAlertPayload()],
        ["secret_scanning_alert", secretScanningAlertPayload()],
        ["star", starPayload()],
        ["issues", example("github-issues.json")],
        ["pull_request", example("github-pull_request.json")],
        ["push", example("github-push.json")],
        ["workflow_run", example("github-workflow_run.json")],
      ] as Array<[string, Json]>
    ).map(([name, body]): [string, Json, (payload: Json) => Event, (path: Path) => boolean] => [
      `github ${name}`,
      body,
      (p) => only(githubEvents({ event: name, body: p })),
      () => true,
    ]),
  ];

  it.each(examples)("from any string of a %s payload", (_name, payload, parse, applies) => {
    const leaks: string[] = [];
    for (const path of stringPaths(payload).filter(applies)) {
      const original = at(payload, path) as string;
      let event: Event;
      try {
        event = parse(replaceAt(payload, path, `${original || "x"}${MARKER}`));
      } catch {
        continue; // the source refuses the payload (a status that is not one): nothing to render
      }
      for (const format of FORMATS) {
        const { content, fallback } = renderShipped(event, format);
        if (fallback !== undefined) leaks.push(`${path.join(".")} (${format}): fell back: ${fallback}`);
        for (const line of forgedLines(content)) leaks.push(`${path.join(".")} (${format}): ${line}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});

describe("links", () => {
  const HOSTILE = ["javascript:alert(document.cookie)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=", "vbscript:msgbox(1)", "file:///etc/passwd"];

  function amWithGeneratorURL(generatorURL: string, runbook?: string): Event {
    const alert = { ...amAlert({ instance: "node-1" }, runbook === undefined ? {} : { runbook_url: runbook }), generatorURL };
    return only(alertmanagerEvents(amPayload(alert)));
  }

  function grafanaWithURLs(url: string): Event {
    const payload = grafanaPayload([{ name: "DiskFull", image: true }]) as Record<string, unknown> & { alerts: Record<string, unknown>[] };
    const alert = { ...payload.alerts[0]!, generatorURL: url, dashboardURL: "", panelURL: url, imageURL: url, silenceURL: url, annotations: { summary: "s", runbook_url: url } };
    return only(grafanaEvents({ ...payload, externalURL: url, alerts: [alert] }));
  }

  it.each(HOSTILE)("a %s generatorURL is no link in the alertmanager template", (url) => {
    const { content, fallback } = renderShipped(amWithGeneratorURL(url, url), "markdown");
    expect(fallback).toBeUndefined();
    expect(content).not.toContain("[source]");
    expect(content).not.toContain("[runbook]");
    expect(content.toLowerCase()).not.toMatch(/javascript:|vbscript:|data:text|file:/);
    expect(content).not.toMatch(/\]\((?!https?:\/\/)/);
    // Text prints no link either.
    expect(renderShipped(amWithGeneratorURL(url, url), "text").content.toLowerCase()).not.toMatch(/javascript:|vbscript:|data:text|file:/);
  });

  it.each(HOSTILE)("a %s generatorURL (and every other link) is no link in the grafana template", (url) => {
    for (const format of FORMATS) {
      const { content, fallback } = renderShipped(grafanaWithURLs(url), format);
      expect(fallback).toBeUndefined();
      expect(content.toLowerCase()).not.toMatch(/javascript:|vbscript:|data:text|file:/);
      expect(content).not.toMatch(/\[(rule|panel|image|silence|runbook|Grafana)\]/);
    }
  });

  it("keeps the http(s) links", () => {
    const { content } = renderShipped(amWithGeneratorURL("https://prometheus.example.com/graph?g0.expr=up"), "markdown");
    expect(content).toContain("[source](https://prometheus.example.com/graph?g0.expr=up)");
  });

  it("percent-encodes a ) or a space so the link does not end early", () => {
    const url = "http://prometheus:9090/graph?g0.expr=rate(x[5m]) > 1&x=a b";
    const { content } = renderShipped(amWithGeneratorURL(url), "markdown");
    expect(content).toContain("[source](http://prometheus:9090/graph?g0.expr=rate%28x[5m]%29%20%3E%201&x=a%20b)");
    const link = /\[source\]\(([^)]*)\)/.exec(content);
    expect(link?.[1]).toBe("http://prometheus:9090/graph?g0.expr=rate%28x[5m]%29%20%3E%201&x=a%20b");
  });

  it("renders no link to a GitHub URL that is not http(s)", () => {
    const body = issuesPayload("opened");
    const event = only(githubEvents({ event: "issues", body: { ...body, issue: { ...body.issue, html_url: "javascript:alert(1)" } } }));
    const { content } = renderShipped(event, "markdown");
    expect(content).toContain("**Invoice PDF shows the wrong currency**");
    expect(content).not.toContain("javascript:");
  });
});
