// The shipped Prometheus alerting rules are valid for the real promtool, and their
// promtool unit tests (prometheus/wecom-relay-rules.test.yml) pass.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findBinary } from "../support/binaries.js";
import { tempDir } from "../support/tmp.js";

const promtool = findBinary("promtool");
const rulesDir = fileURLToPath(new URL("../../prometheus/", import.meta.url));
const rulesFile = join(rulesDir, "wecom-relay-rules.yml");
const rulesTestFile = join(rulesDir, "wecom-relay-rules.test.yml");

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[];
}

const groups = (parse(readFileSync(rulesFile, "utf8")) as { groups: { name: string; rules: Rule[] }[] }).groups;
const rules = groups.flatMap((group) => group.rules);
const ruleTests = (parse(readFileSync(rulesTestFile, "utf8")) as { tests: RuleTest[] }).tests;

function run(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtool!, args, { encoding: "utf8", timeout: 20_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("alert rules", () => {
  it("form one group, wecom-relay, with a rule for each way an alert can be lost or late", () => {
    expect(groups.map((group) => group.name)).toEqual(["wecom-relay"]);
    expect(new Set(rules.map((rule) => rule.alert))).toEqual(
      new Set([
        // lost
        "WecomRelayDown",
        "WecomRelayWebhooksRejected",
        "WecomRelayOutboxWriteFailing",
        "WecomRelayDeadLetters",
        "WecomRelayAppTokenFailing",
        "WecomRelayInvalidRecipients",
        // late
        "WecomRelayDeliveryStalled",
        "WecomRelayOutboxGrowing",
        "WecomRelayTargetPaused",
        "WecomRelayWeComErrorRatio",
        "WecomRelayDeliveryLatencyHigh",
        // not what was meant, or down now and then
        "WecomRelayConfigReloadFailed",
        "WecomRelayRestarting",
      ]),
    );
  });

  it("give every alert a severity, a summary and a description naming its runbook", () => {
    for (const rule of rules) {
      expect(["warning", "critical"], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toContain(`Runbook: ${rule.alert} in docs/operations.md`);
    }
  });

  it("have a runbook section each in docs/operations.md: what it means, what to check, what to do", () => {
    const operations = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
    for (const alert of new Set(rules.map((rule) => rule.alert))) {
      const start = operations.indexOf(`\n### ${alert}\n`);
      expect(start, `runbook section for ${alert}`).toBeGreaterThan(0);
      const section = operations.slice(start + 1).split(/\n##+ /)[0]!;
      for (const part of ["**Means**", "**Check**", "**Do**"]) expect(section, `${alert}: ${part}`).toContain(part);
    }
  });

  it("grade the WeCom error ratio as a warning and, higher up, as critical", () => {
    const severities = rules.filter((rule) => rule.alert === "WecomRelayWeComErrorRatio").map((rule) => rule.labels?.severity);
    expect(severities.sort()).toEqual(["critical", "warning"]);
  });

  it("have unit tests that expect each alert both to fire and to stay silent", () => {
    const cases = ruleTests.flatMap((test) => test.alert_rule_test ?? []);
    for (const alert of new Set(rules.map((rule) => rule.alert))) {
      const own = cases.filter((c) => c.alertname === alert);
      expect(own.some((c) => c.exp_alerts.length > 0), `${alert} fires in some case`).toBe(true);
      expect(own.some((c) => c.exp_alerts.length === 0), `${alert} stays silent in some case`).toBe(true);
    }
  });
});

describe.skipIf(!promtool)("alert rules with the real promtool", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("pass promtool check rules", () => {
    const { status, output } = run("check", "rules", rulesFile);
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS: 14 rules found/);
  });

  it("pass their promtool unit tests", () => {
    const { status, output } = run("test", "rules", rulesTestFile);
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS/);
  });

  it.each([
    ["a PromQL syntax error", "rate(wecom_relay_dead_letters_total[15m]", /could not parse expression/],
    ["an unknown function", "increse(wecom_relay_dead_letters_total[15m]) > 0", /unknown function with name "increse"/],
  ])("reject a rules file with %s", (_what, expr, complaint) => {
    const broken = join(tmp.dir, "broken-rules.yml");
    writeFileSync(broken, `groups:\n  - name: wecom-relay\n    rules:\n      - alert: Broken\n        expr: '${expr}'\n`);
    const { status, output } = run("check", "rules", broken);
    expect(status, output).not.toBe(0);
    expect(output).toMatch(complaint);
  });

  it("fail a unit test whose expected alert does not match", () => {
    const wrongExpectation = join(tmp.dir, "wrong.test.yml");
    writeFileSync(
      wrongExpectation,
      `rule_files: [${JSON.stringify(rulesFile)}]
tests:
  - interval: 1m
    input_series:
      - series: 'wecom_relay_config_last_reload_successful{instance="relay-1:8080"}'
        values: "1x20"
    alert_rule_test:
      - eval_time: 15m
        alertname: WecomRelayConfigReloadFailed
        exp_alerts:
          - exp_labels: { severity: warning, instance: "relay-1:8080" }
`,
    );
    const { status, output } = run("test", "rules", wrongExpectation);
    expect(status, output).not.toBe(0);
    expect(output).toMatch(/FAILED[\s\S]*alertname: WecomRelayConfigReloadFailed/);
  });
});
