// The dashboard and the alert rules as they are used: the real Prometheus scrapes the
// relay (run as operators run it) every second while scripted traffic causes each event
// once: a refused webhook, a failed and a good reload, a 45009, a dead letter, a failed
// token fetch, invalid recipients, a burst coalesced into digests, a render fallback, a
// card click, an outage of WeCom and a restart. Then every panel's queries and every
// variable are evaluated through Prometheus's HTTP API, with Grafana's variables filled
// in, and each panel must show its event; the alert rules, loaded into the same
// Prometheus, must evaluate without an error and fire for what happened.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { packageVersion } from "../../src/paths.js";
import { freePort } from "../support/alertmanager.js";
import { cardClickCallback, postCallback } from "../support/card-click.js";
import { startChildRelay, type ChildRelay } from "../support/child-relay.js";
import { dashboard, queryPanels } from "../support/dashboard.js";
import { metricNames, parseExposition, familyOf } from "../support/exposition.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { prometheusBinary, startPrometheus, type RangeSeries, type RunningPrometheus, type RuleState } from "../support/prometheus.js";
import { metricValue } from "../support/relay.js";
import { tempDir } from "../support/tmp.js";
import { until } from "../support/wait.js";

const AM_TOKEN = "am-token-for-the-dashboard-test";
const CALLBACK = { token: "cb-token-hJqcu3uJ9Tn2", aesKey: "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt" };
const RULES_FILE = fileURLToPath(new URL("../../prometheus/wecom-relay-rules.yml", import.meta.url));
/** Grafana's $__rate_interval at a 1 s scrape interval is 4 s; a little more keeps every step's window over 4 samples. */
const RATE_INTERVAL = "5s";

const TARGETS = ["robot-ok", "robot-gone", "robot-busy", "quiet", "app-ok", "app-bad"];
const RECEIVERS = ["ok", "gone", "busy", "quiet", "app", "app-bad"];

function relayConfig(apiBase: string, templatesDir: string, port: number): string {
  const app = `corp_id: ${DEFAULT_FAKE_APP.corpId}, agent_id: ${DEFAULT_FAKE_APP.agentId}`;
  return `
wecom: { api_base: "${apiBase}", timeout: 1s }
delivery: { retry_initial: 500ms, retry_max: 1s, coalesce_after: 1s }
auth:
  alertmanager: { bearer_token: "${AM_TOKEN}" }
templates: { dir: "${templatesDir}" }
actions: { public_url: "http://127.0.0.1:${port}", secret: "action-secret-for-the-dashboard-test" }
targets:
  robot-ok: { type: robot, webhook: key-ok, rate_limit: { max: 10, per: 1s } }
  robot-gone: { type: robot, webhook: key-gone }
  robot-busy: { type: robot, webhook: key-busy, rate_limit: { max: 10, per: 4s } }
  quiet: { type: robot, webhook: key-quiet }
  app-ok: { type: app, ${app}, secret: ${DEFAULT_FAKE_APP.secret}, to_user: [zhangsan, ghost], callback: { token: ${CALLBACK.token}, aes_key: ${CALLBACK.aesKey} } }
  app-bad: { type: app, ${app}, secret: not-the-app-secret, to_user: [zhangsan] }
receivers:
${RECEIVERS.map((name, i) => `  - { name: ${name}, targets: [${TARGETS[i]}] }`).join("\n")}
route: { receiver: ok }
`;
}

/** Grafana's "All" for a multi-value variable: every value, regex-escaped, in one alternation (inside a PromQL string). */
function allOf(values: readonly string[]): string {
  return `(${values.map((value) => value.replace(/[\\^$.*+?()[\]{}|]/g, "\\\\$&")).join("|")})`;
}

/** What a variable set to "All" becomes in a query: its allValue if the dashboard sets one, else every value found. */
function all(name: string, found: Record<string, string[]>): string {
  const variable = dashboard.templating.list.find((one) => one.name === name)!;
  return variable.allValue ?? allOf(found[name]!);
}

interface Scenario {
  start: number;
  end: number;
  port: number;
  variables: Record<string, string[]>;
  /** Per panel title, the results of its queries in refId order. */
  panels: Map<string, RangeSeries[][]>;
  rules: RuleState[];
  exposition: string;
}

/** Every finite value of the series whose labels include `labels`. */
function values(series: readonly RangeSeries[], labels: Record<string, string> = {}): number[] {
  return series
    .filter((one) => Object.entries(labels).every(([name, value]) => one.metric[name] === value))
    .flatMap((one) => one.values.map(([, value]) => Number(value)).filter((value) => Number.isFinite(value)));
}
const peak = (series: readonly RangeSeries[], labels?: Record<string, string>) => Math.max(-Infinity, ...values(series, labels));
const low = (series: readonly RangeSeries[], labels?: Record<string, string>) => Math.min(Infinity, ...values(series, labels));
/** The value at the end of the range. */
function last(series: readonly RangeSeries[], labels: Record<string, string> = {}): number {
  const matching = series.filter((one) => Object.entries(labels).every(([name, value]) => one.metric[name] === value));
  expect(matching, `a series with ${JSON.stringify(labels)}`).toHaveLength(1);
  return Number(matching[0]!.values.at(-1)![1]);
}

/** Asserts that each label set reaches above `floor` somewhere in the range. */
function shows(series: readonly RangeSeries[], ...labelSets: Record<string, string>[]): void {
  for (const labels of labelSets) expect(peak(series, labels), `a point above 0 for ${JSON.stringify(labels)}`).toBeGreaterThan(0);
}

/** What each panel must show after the scripted traffic: results are per query, in refId order. */
const EXPECTED: Record<string, (results: RangeSeries[][], scenario: Scenario) => void> = {
  "Relay instances up": ([up, of]) => {
    expect(peak(up!)).toBe(1); // Prometheus's own job is not counted
    expect(low(up!)).toBe(0); // the restart
    expect(low(of!)).toBe(1);
  },
  "Messages delivered": ([delivered]) => expect(last(delivered!)).toBeGreaterThanOrEqual(25),
  "Dead letters": ([dead]) => expect(last(dead!)).toBeGreaterThanOrEqual(2),
  "Delivered share": ([share]) => {
    expect(last(share!)).toBeGreaterThan(0.5);
    expect(last(share!)).toBeLessThan(1);
  },
  "Webhooks refused (lost)": ([refused]) => expect(last(refused!)).toBeGreaterThanOrEqual(1),
  "Oldest queued message": ([oldest]) => expect(peak(oldest!)).toBeGreaterThanOrEqual(2),
  "Messages queued and their outcomes by target (per minute)": ([queued, delivered, dead]) => {
    shows(queued!, { target: "robot-ok" }, { target: "app-bad" });
    shows(delivered!, { target: "robot-ok" }, { target: "robot-busy" }, { target: "app-ok" });
    shows(dead!, { target: "robot-gone", reason: "errcode_93000" }, { target: "app-bad", reason: "errcode_40001" });
  },
  "Delivered share by target": ([share]) => {
    // Targets that only failed are there, at 0.
    expect(last(share!, { target: "robot-gone" })).toBe(0);
    expect(last(share!, { target: "app-bad" })).toBe(0);
    expect(last(share!, { target: "robot-ok" })).toBe(1);
  },
  "Webhook answers by source and status (per minute)": ([answers]) =>
    shows(answers!, { source: "alertmanager", code: "200" }, { source: "alertmanager", code: "401" }, { source: "api", code: "202" }, { source: "callback", code: "200" }),
  "Events received by source and status (per minute)": ([events]) => shows(events!, { source: "alertmanager", status: "firing" }, { source: "api", status: "none" }),
  "Events routed by receiver (per minute)": ([routed]) => shows(routed!, ...RECEIVERS.filter((name) => name !== "quiet").map((receiver) => ({ receiver }))),
  "Oldest queued message by target": ([oldest]) => {
    expect(peak(oldest!, { target: "robot-ok" }), "the outage").toBeGreaterThanOrEqual(2);
    expect(peak(oldest!, { target: "robot-busy" }), "the 45009 pause").toBeGreaterThanOrEqual(2);
  },
  "Delivery latency by target": ([, , p99]) => {
    expect(peak(p99!, { target: "robot-ok" })).toBeGreaterThanOrEqual(2);
    expect(peak(p99!, { target: "robot-busy" })).toBeGreaterThanOrEqual(2);
  },
  "Webhook answer time by source": ([p50]) => shows(p50!, { source: "alertmanager" }, { source: "api" }),
  "Send attempts by target and result (per minute)": ([attempts]) =>
    shows(attempts!, { target: "robot-ok", result: "ok" }, { target: "robot-ok", result: "retry" }, { target: "robot-gone", result: "permanent" }, { target: "robot-busy", result: "retry" }, { target: "app-bad", result: "permanent" }),
  "Send failures by target and class": ([failures]) =>
    shows(
      failures!,
      ...["http_5xx", "network", "timeout", "errcode"].map((failureClass) => ({ target: "robot-ok", class: failureClass })),
      { target: "robot-gone", class: "errcode" },
      { target: "robot-busy", class: "errcode" },
      { target: "app-bad", class: "token" },
    ),
  "WeCom errcodes by target": ([errcodes]) =>
    shows(errcodes!, { target: "robot-busy", errcode: "45009" }, { target: "robot-gone", errcode: "93000" }, { target: "app-bad", errcode: "40001" }, { target: "robot-ok", errcode: "-1" }),
  "Dead letters by target and reason": ([dead]) => shows(dead!, { target: "robot-gone", reason: "errcode_93000" }, { target: "app-bad", reason: "errcode_40001" }),
  "Requests refused by source and reason": ([refused]) => shows(refused!, { source: "alertmanager", reason: "unauthorized" }),
  "Config reloads": ([reloads, succeeded]) => {
    shows(reloads!, { result: "failure" }, { result: "success" });
    expect(low(succeeded!)).toBe(0);
    expect(last(succeeded!)).toBe(1);
  },
  "App token fetches by target and result": ([fetches]) => shows(fetches!, { target: "app-bad", result: "failure" }, { target: "app-ok", result: "success" }),
  "Render fallbacks by template": ([fallbacks]) => shows(fallbacks!, { template: "empty" }),
  "Invalid app recipients by target": ([invalid]) => shows(invalid!, { target: "app-ok" }),
  "App callback events by target (per minute)": ([events]) => shows(events!, { target: "app-ok" }),
  "Actions from WeCom by action and result": ([actions]) => shows(actions!, { action: "ack", result: "refused" }),
  "Queued messages by target: due and waiting for a retry": ([due, waiting]) => {
    shows(due!, { target: "robot-ok" });
    shows(waiting!, { target: "robot-ok" }, { target: "robot-busy" });
  },
  "Paused by WeCom (45009): seconds left": ([paused]) => {
    shows(paused!, { target: "robot-busy" });
    expect(peak(paused!, { target: "robot-ok" })).toBe(0);
  },
  "App access_token: validity and gettoken backoff": ([validity, backoff]) => {
    expect(peak(validity!, { target: "app-ok" })).toBeGreaterThan(7000);
    shows(backoff!, { target: "app-bad" });
  },
  "Throttled sends by limiter (per minute)": ([throttled]) => shows(throttled!, { limiter: "robot-ok" }),
  "Coalesced messages by target (per minute)": ([coalesced]) => shows(coalesced!, { target: "robot-ok" }),
  "Messages retried by target (per minute)": ([retried]) => shows(retried!, { target: "robot-ok" }, { target: "robot-busy" }),
  Version: ([versions]) => expect(last(versions!, { version: packageVersion(), nodejs_version: process.version })).toBe(1),
  Restarts: ([restarts]) => expect(last(restarts!)).toBeGreaterThanOrEqual(1),
  "Last config reload": ([reload]) => {
    expect(low(reload!)).toBe(0);
    expect(last(reload!)).toBe(1);
  },
  "Config loaded": ([loaded], { start }) => expect(last(loaded!)).toBeGreaterThan(start * 1000),
  "Outbox size": ([size]) => expect(last(size!)).toBeGreaterThan(0),
  "Queued now": ([queued]) => expect(peak(queued!)).toBeGreaterThan(0),
  CPU: ([cpu]) => expect(peak(cpu!)).toBeGreaterThan(0),
  Memory: ([rss, heap]) => {
    expect(peak(rss!)).toBeGreaterThan(0);
    expect(peak(heap!)).toBeGreaterThan(0);
  },
  "Event loop lag p99": ([lag]) => expect(peak(lag!)).toBeGreaterThan(0),
};

/** Alerts the traffic must leave pending or firing, with the labels that say for what. */
const EXPECTED_ALERTS: [string, Record<string, string>][] = [
  ["WecomRelayWebhooksRejected", { source: "alertmanager", reason: "unauthorized" }],
  ["WecomRelayDeadLetters", { target: "robot-gone", reason: "errcode_93000" }],
  ["WecomRelayDeadLetters", { target: "app-bad", reason: "errcode_40001" }],
  ["WecomRelayAppTokenFailing", { target: "app-bad" }],
  ["WecomRelayInvalidRecipients", { target: "app-ok" }],
  ["WecomRelayTargetPaused", { target: "robot-busy" }],
];

describe.skipIf(!prometheusBinary)("dashboard and alert rules against a real Prometheus", () => {
  const tmp = tempDir();
  let wecom: FakeWeCom | undefined;
  let prometheus: RunningPrometheus | undefined;
  let relay: ChildRelay | undefined;
  let scenario: Scenario;

  beforeAll(async () => {
    const started = Date.now();
    wecom = await startFakeWeCom({
      robotKeys: ["key-ok", "key-busy", "key-quiet"],
      robotRateLimit: { max: 1000, perMs: 1000 },
      unknownUsers: ["ghost"],
    });
    const port = await freePort();
    const templatesDir = join(tmp.dir, "templates");
    mkdirSync(templatesDir);
    // Renders nothing: the plain fallback goes out instead, and is counted.
    writeFileSync(join(templatesDir, "empty.md.hbs"), "{{#if nothing}}never{{/if}}");
    const configFile = join(tmp.dir, "routes.yml");
    const config = relayConfig(wecom.url, templatesDir, port);
    writeFileSync(configFile, config);
    const dataDir = join(tmp.dir, "data");
    const startRelay = () => startChildRelay(configFile, dataDir, {}, { listen: `127.0.0.1:${port}` });

    const start = Math.floor(Date.now() / 1000) - 1;
    [prometheus, relay] = await Promise.all([startPrometheus({ jobs: [{ name: "wecom-relay", targets: [`127.0.0.1:${port}`] }], ruleFiles: [RULES_FILE] }), startRelay()]);
    const prom = prometheus;
    const url = relay.url;
    const has = async (expr: string) => (await prom.query(expr)).length > 0;
    const scrapedAfter = (seconds: number) => until(() => has(`timestamp(up{job="wecom-relay"}) > ${seconds}`), "a scrape of what happened", 10_000);
    // Every series exists at 0 in Prometheus before anything happens.
    await until(() => has('count_over_time(wecom_relay_build_info{job="wecom-relay"}[1m]) >= 2'), "two scrapes of the relay", 15_000);

    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(url + path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    const send = async (receiver: string, text: string) => expect((await post("/api/v1/messages", { receiver, text })).status).toBe(202);
    const queued = async () => metricValue(await (await fetch(`${url}/metrics`)).text(), "wecom_relay_outbox_depth");
    const robotGot = (key: string, text: string) => wecom!.robotMessages(key).some((message) => message.content.includes(text));

    // A 45009: the busy robot is paused for its 4 s window, then sends again.
    wecom.failNext(1, { errcode: 45009 }, "robot");
    await send("busy", "held back by a 45009");
    await until(() => wecom!.requests("robot").some((r) => typeof r.reply === "object" && r.reply.errcode === 45009), "the 45009");

    // Once each, at once: a delivered alert, a refused one, a dead letter, a failed token
    // fetch, invalid recipients, a render fallback, a card click, a failed reload and a burst.
    const alert = alertmanagerPayload([{ name: "DashboardTest" }]);
    writeFileSync(configFile, "route: [this is not a config");
    const answers = await Promise.all([
      post("/webhook/alertmanager", alert, { authorization: `Bearer ${AM_TOKEN}` }),
      post("/webhook/alertmanager", alert, { authorization: "Bearer not-the-token" }),
      post("/api/v1/messages", { receiver: "ok", template: "empty", format: "markdown", data: {} }),
      postCallback(
        `${url}/wecom/callback/app-ok`,
        cardClickCallback({ corpId: DEFAULT_FAKE_APP.corpId, agentId: DEFAULT_FAKE_APP.agentId, ...CALLBACK }, { taskId: "no-such-card", eventKey: "ack", responseCode: "no-such-code" }),
      ),
      fetch(`${url}/-/reload`, { method: "POST" }),
    ]);
    expect(answers.map((res) => res.status)).toEqual([200, 401, 202, 200, 500]);
    await Promise.all([send("gone", "to a removed robot"), send("app-bad", "to an app with a wrong secret"), send("app", "to an unknown user too")]);
    // More than coalesce_after (1 s) takes at the robot's pace (10 a second): digests.
    await Promise.all(Array.from({ length: 40 }, (_, i) => send("ok", `burst ${i}`)));
    // Scrapes see the failed reload before the good one.
    await until(() => has('min_over_time(wecom_relay_config_last_reload_successful{job="wecom-relay"}[10s]) == 0'), "Prometheus to see the failed reload");
    writeFileSync(configFile, config);
    expect((await fetch(`${url}/-/reload`, { method: "POST" })).status).toBe(200);
    await until(async () => robotGot("key-busy", "held back by a 45009") && (await queued()) === 0, "the 45009's message and the burst to be delivered", 15_000);

    // WeCom fails four ways for at least 3 s (the backoffs and a 1 s timeout), then
    // answers: the message waits, retries, and is delivered late.
    wecom.failNext(1, { httpStatus: 502 }, "robot");
    wecom.failNext(1, "reset", "robot");
    wecom.failNext(1, "hang", "robot");
    wecom.failNext(1, { errcode: -1 }, "robot");
    wecom.failNext(1, { httpStatus: 503 }, "robot");
    await send("ok", "sent during an outage");
    await until(() => robotGot("key-ok", "sent during an outage"), "the message sent during the outage", 15_000);

    // A restart: Prometheus sees the relay down, then a new process. What the old one counted
    // is scraped first (a count between the last scrape and an exit is lost, as in production).
    await scrapedAfter(Date.now() / 1000);
    relay.kill("SIGTERM");
    await relay.exited;
    await until(() => has('up{job="wecom-relay"} == 0'), "Prometheus to see the relay down", 10_000);
    relay = await startRelay();
    await until(() => has('min_over_time(up{job="wecom-relay"}[2s]) == 1 and changes(wecom_relay_process_start_time_seconds[5m]) >= 1'), "two scrapes after the restart", 15_000);

    const end = Math.ceil(Date.now() / 1000);
    const variables = await evaluateVariables(prom, start, end);
    const fill = (expr: string) =>
      expr
        .replaceAll("$__rate_interval", RATE_INTERVAL)
        .replaceAll("$__range", `${end - start}s`)
        .replaceAll("$__interval", "1s")
        .replace(/\$(job|instance|target|receiver)\b/g, (_m, name: string) => all(name, variables));
    const panels = new Map<string, RangeSeries[][]>();
    for (const panel of queryPanels) {
      panels.set(panel.title!, await Promise.all((panel.targets ?? []).map((target) => prom.queryRange(fill(target.expr!), start, end))));
    }
    scenario = { start, end, port, variables, panels, rules: await prom.rules(), exposition: await (await fetch(`${relay.url}/metrics`)).text() };
    console.log(`Prometheus scenario: ${((Date.now() - started) / 1000).toFixed(1)} s, ${end - start} s of scrapes, ${panels.size} panels`);
  }, 90_000);

  afterAll(async () => {
    if (relay?.process.exitCode === null) {
      relay.kill("SIGTERM");
      await relay.exited;
    }
    await prometheus?.stop();
    await wecom?.close();
    tmp.remove();
  });

  /** Each variable's label_values() query, with the variables it names filled in as "All". */
  async function evaluateVariables(prom: RunningPrometheus, start: number, end: number): Promise<Record<string, string[]>> {
    const variables: Record<string, string[]> = {};
    for (const variable of dashboard.templating.list.filter((one) => one.type === "query")) {
      const query = typeof variable.query === "string" ? variable.query : variable.query!.query!;
      const [, selector, label] = /^label_values\((.+),\s*(\w+)\)$/.exec(query)!;
      const match = selector!.replace(/\$(\w+)/g, (_m, name: string) => all(name, variables));
      variables[variable.name] = await prom.labelValues(label!, match, start, end);
    }
    return variables;
  }

  it("lists the relay's job, instance, targets and receivers in the variables, and not Prometheus's own job", () => {
    expect(scenario.variables).toEqual({
      job: ["wecom-relay"],
      instance: [`127.0.0.1:${scenario.port}`],
      target: [...TARGETS].sort(),
      receiver: [...RECEIVERS].sort(),
    });
  });

  it("has an expectation for every panel", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(queryPanels.map((panel) => panel.title!).sort());
  });

  it.each(queryPanels.map((panel) => panel.title!))("panel %s shows its event", (title) => {
    EXPECTED[title]!(scenario.panels.get(title)!, scenario);
  });

  it("shows nothing for the target that had no traffic", () => {
    const noisy = [...scenario.panels].flatMap(([title, results]) =>
      results.flatMap((series) => series.filter((one) => Object.values(one.metric).includes("quiet") && peak([one]) > 0).map((one) => `${title}: ${JSON.stringify(one.metric)}`)),
    );
    expect(noisy).toEqual([]);
    expect(scenario.panels.get("Send attempts by target and result (per minute)")!.flat().some((one) => one.metric.target === "quiet")).toBe(true);
  });

  it("evaluates every alert rule without an error", () => {
    const names = (parse(readFileSync(RULES_FILE, "utf8")) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    expect(scenario.rules.map((rule) => rule.name)).toEqual(names);
    for (const rule of scenario.rules) expect({ rule: rule.name, health: rule.health, error: rule.lastError ?? "" }).toEqual({ rule: rule.name, health: "ok", error: "" });
  });

  it("queries in its rules only metrics the relay exports", () => {
    const exposition = parseExposition(scenario.exposition);
    const rules = (parse(readFileSync(RULES_FILE, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((group) => group.rules);
    const unknown = rules.flatMap((rule) => metricNames(rule.expr).filter((name) => familyOf(name, exposition) === undefined).map((name) => `${rule.alert}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it.each(EXPECTED_ALERTS)("raises %s for %j", (alert, labels) => {
    const active = scenario.rules.filter((rule) => rule.name === alert).flatMap((rule) => rule.alerts ?? []);
    expect(active.filter((one) => Object.entries(labels).every(([name, value]) => one.labels[name] === value))).not.toEqual([]);
  });

  it("raises no alert about the target that had no traffic", () => {
    const about = scenario.rules.flatMap((rule) => (rule.alerts ?? []).filter((one) => Object.values(one.labels).includes("quiet")).map((one) => `${rule.name} ${JSON.stringify(one.labels)}`));
    expect(about).toEqual([]);
  });
});
