// Every sample payload in examples/ is accepted by its source adapter and becomes the
// event its README row promises; a new example without a case here fails the suite.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { alertmanagerEvents } from "../src/sources/alertmanager.js";
import { apiMessage } from "../src/sources/api.js";
import { githubEvents } from "../src/sources/github.js";
import { grafanaEvents } from "../src/sources/grafana.js";
import type { Event, Labels } from "../src/types.js";

const examplesDir = new URL("../examples/", import.meta.url);
const DELIVERY = "3f9c2a6e-7b1d-4e8a-9c5f-2d4b6a8e0c13";
const ZERO_TIME = "0001-01-01T00:00:00Z";

function readExample(file: string): unknown {
  return JSON.parse(readFileSync(new URL(file, examplesDir), "utf8")) as unknown;
}

function single(parsed: ReturnType<typeof alertmanagerEvents>): Event {
  if (!parsed.ok) throw new Error(parsed.error);
  expect(parsed.value).toHaveLength(1);
  return parsed.value[0]!;
}

/** The X-GitHub-Event of an example is in its name: github-pull_request.json → pull_request. */
function githubEventName(file: string): string {
  const name = /^github-(.+)\.json$/.exec(file)?.[1];
  if (name === undefined) throw new Error(`${file} is not named github-<event>.json`);
  return name;
}

interface AlertGroupBody {
  status: string;
  commonLabels: Labels;
  commonAnnotations: Labels;
  alerts: { status: string; labels: Labels; annotations: Labels; startsAt: string; endsAt: string; fingerprint: string }[];
}

/** What Alertmanager (and Grafana) compute: the labels and annotations every alert shares. */
function shared(maps: Labels[]): Labels {
  const [first = {}, ...rest] = maps;
  return Object.fromEntries(Object.entries(first).filter(([name, value]) => rest.every((map) => map[name] === value)));
}

/** The example is a group as its sender would build it, not just something the adapter tolerates. */
function expectConsistentGroup(body: AlertGroupBody, status: "firing" | "resolved") {
  expect(body.status).toBe(status);
  expect(body.commonLabels).toEqual(shared(body.alerts.map((alert) => alert.labels)));
  expect(body.commonAnnotations).toEqual(shared(body.alerts.map((alert) => alert.annotations)));
  for (const alert of body.alerts) {
    expect(alert.status).toBe(status);
    expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(Date.parse(alert.startsAt)).not.toBeNaN();
    if (status === "firing") expect(alert.endsAt).toBe(ZERO_TIME);
    else expect(Date.parse(alert.endsAt)).toBeGreaterThan(Date.parse(alert.startsAt));
  }
}

const diskFullLabels = { alertname: "DiskFull", job: "node", mountpoint: "/data", severity: "critical", receiver: "sre", source: "alertmanager" };
const highCpuLabels = { alertname: "HighCPUUsage", grafana_folder: "Infra", severity: "warning", team: "sre", receiver: "sre", source: "grafana" };
const helloWorld = { source: "github", repository: "Codertocat/Hello-World", sender: "Codertocat" };

/** One check per example file, by file name. */
const cases: Record<string, (file: string) => void> = {
  "alertmanager-firing.json": (file) => {
    const body = readExample(file);
    const event = single(alertmanagerEvents(body));
    expect(event.source).toBe("alertmanager");
    expect(event.status).toBe("firing");
    expect(event.labels).toEqual({ ...diskFullLabels, status: "firing" });
    expect(event.data).toMatchObject({ firingCount: 2, resolvedCount: 0 });
    expect(event.data.alerts).toHaveLength(2);
    expect(event.summary).toBe("[FIRING:2] DiskFull · node-1:9100, node-2:9100 · node-1:9100 磁盘 /data 剩余空间不足 10%");
    expect(event.link).toMatch(/^http:\/\/prometheus\.example\.com:9090\/graph\?g0\.expr=/);
    expectConsistentGroup(body as AlertGroupBody, "firing");
  },
  "alertmanager-resolved.json": (file) => {
    const body = readExample(file);
    const event = single(alertmanagerEvents(body));
    expect(event.source).toBe("alertmanager");
    expect(event.status).toBe("resolved");
    expect(event.labels).toEqual({ ...diskFullLabels, status: "resolved" });
    expect(event.data).toMatchObject({ firingCount: 0, resolvedCount: 2 });
    expect(event.data.alerts).toHaveLength(2);
    expect(event.summary).toBe("[RESOLVED:2] DiskFull · node-1:9100, node-2:9100 · node-1:9100 磁盘 /data 剩余空间不足 10%");
    expectConsistentGroup(body as AlertGroupBody, "resolved");
    // The same group as the firing example: same key, same alerts.
    const firing = readExample("alertmanager-firing.json") as AlertGroupBody & { groupKey: string };
    const resolved = body as AlertGroupBody & { groupKey: string };
    expect(resolved.groupKey).toBe(firing.groupKey);
    expect(resolved.alerts.map((alert) => alert.fingerprint)).toEqual(firing.alerts.map((alert) => alert.fingerprint));
  },
  "grafana-firing.json": (file) => {
    const body = readExample(file);
    const event = single(grafanaEvents(body));
    expect(event.source).toBe("grafana");
    expect(event.status).toBe("firing");
    expect(event.labels).toEqual({ ...highCpuLabels, status: "firing" });
    expect(event.data).toMatchObject({ version: "1", state: "alerting", orgId: 1, firingCount: 2, resolvedCount: 0 });
    const [alert] = event.data.firing as { valueText: string; distinctLabels: string }[];
    expect(alert).toMatchObject({ valueText: "A=93.473, B=93.473, C=1", distinctLabels: "instance=db-1:9100" });
    expect(event.link).toContain("viewPanel=");
    expectConsistentGroup(body as AlertGroupBody, "firing");
  },
  "grafana-resolved.json": (file) => {
    const body = readExample(file);
    const event = single(grafanaEvents(body));
    expect(event.source).toBe("grafana");
    expect(event.status).toBe("resolved");
    expect(event.labels).toEqual({ ...highCpuLabels, status: "resolved" });
    expect(event.data).toMatchObject({ version: "1", state: "ok", firingCount: 0, resolvedCount: 2 });
    expectConsistentGroup(body as AlertGroupBody, "resolved");
  },
  "github-push.json": (file) => {
    const event = single(githubEvents({ event: githubEventName(file), delivery: DELIVERY, body: readExample(file) }));
    expect(event.source).toBe("github");
    expect(event.status).toBeUndefined();
    expect(event.labels).toEqual({ ...helloWorld, event: "push", ref: "refs/heads/master", branch: "master" });
    expect(event.data).toMatchObject({ commitCount: 1, moreCommits: 0, shortSha: "6113728" });
  },
  "github-pull_request.json": (file) => {
    const event = single(githubEvents({ event: githubEventName(file), delivery: DELIVERY, body: readExample(file) }));
    expect(event.source).toBe("github");
    expect(event.status).toBeUndefined();
    expect(event.labels).toEqual({ ...helloWorld, event: "pull_request", action: "opened", branch: "master" });
    expect(event.link).toBe("https://github.com/Codertocat/Hello-World/pull/2");
  },
  "github-issues.json": (file) => {
    const event = single(githubEvents({ event: githubEventName(file), delivery: DELIVERY, body: readExample(file) }));
    expect(event.source).toBe("github");
    expect(event.status).toBeUndefined();
    expect(event.labels).toEqual({ ...helloWorld, event: "issues", action: "opened" });
    expect(event.data.subject).toMatch(/^#1 /);
  },
  "github-workflow_run.json": (file) => {
    const event = single(githubEvents({ event: githubEventName(file), delivery: DELIVERY, body: readExample(file) }));
    expect(event.source).toBe("github");
    expect(event.status).toBe("firing");
    expect(event.labels).toEqual({
      source: "github",
      event: "workflow_run",
      action: "completed",
      repository: "octo-org/octo-repo",
      sender: "Codertocat",
      branch: "master",
      status: "firing",
    });
    expect(event.data.subject).toBe("test #163 failure");
  },
  "api-message.json": (file) => {
    const parsed = apiMessage(readExample(file));
    if (!parsed.ok) throw new Error(parsed.error);
    const { event, receiver, template, format, mention } = parsed.value;
    expect({ receiver, template, format, mention }).toEqual({ receiver: "sre", template: "api", format: "markdown", mention: [] });
    expect(event.source).toBe("api");
    expect(event.status).toBeUndefined();
    expect(event.labels).toEqual({ source: "api", receiver: "sre" });
    expect(event.summary).toContain("主从切换演练");
  },
};

describe("examples/", () => {
  const files = readdirSync(examplesDir).filter((name) => name.endsWith(".json")).sort();

  it("has a test case for every example payload, and an example for every case", () => {
    expect(files).toEqual(Object.keys(cases).sort());
  });

  it("lists every example payload in its README", () => {
    const readme = readFileSync(new URL("README.md", examplesDir), "utf8");
    for (const file of files) expect(readme, file).toContain(`examples/${file}`);
  });

  it.each(files)("%s is pretty-printed JSON (2-space indent)", (file) => {
    const text = readFileSync(new URL(file, examplesDir), "utf8");
    expect(text).toBe(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  });

  it.each(Object.keys(cases))("%s is accepted by its source adapter", (file) => {
    cases[file]!(file);
  });
});
