// The CLI as operators run it: its main() in this process (the same code the bin runs),
// and once as the built bin in a child process.
import { spawnSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../src/cli.js";
import { packageRoot } from "../src/paths.js";
import { cliPath } from "./support/child-relay.js";
import { pullRequestPayload } from "./support/github-payloads.js";
import { alertmanagerPayload } from "./support/payloads.js";
import { tempDir } from "./support/tmp.js";

const tmp = tempDir();
afterAll(() => tmp.remove());

const ENV = {
  WECOM_ROBOT_WEBHOOK: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=cli-test-robot-key",
  AM_TOKEN: "cli-test-am-token",
  RELAY_API_TOKEN: "cli-test-api-token",
};

/**
 * Runs the CLI in this process, as `wecom-relay ARGS` would from the package folder with
 * exactly `env` set: its exit code and what it printed.
 */
async function run(args: string[], env: Record<string, string> = ENV) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const print = (into: string[]) => (...parts: unknown[]) => void into.push(`${parts.map(String).join(" ")}\n`);
  const log = vi.spyOn(console, "log").mockImplementation(print(stdout));
  const error = vi.spyOn(console, "error").mockImplementation(print(stderr));
  const savedEnv = process.env;
  const savedCwd = process.cwd();
  process.env = { PATH: savedEnv.PATH, WECOM_RELAY_LOG_LEVEL: "error", ...env };
  process.chdir(packageRoot());
  try {
    const code = await main(args);
    return { code, stdout: stdout.join(""), stderr: stderr.join("") };
  } finally {
    process.env = savedEnv;
    process.chdir(savedCwd);
    log.mockRestore();
    error.mockRestore();
  }
}

function file(name: string, content: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, content);
  return path;
}

describe("wecom-relay check", () => {
  it("accepts the shipped routes.yml with nothing set and exits 0", async () => {
    const { code, stdout } = await run(["check"], {});
    expect(code).toBe(0);
    expect(stdout).toMatch(/^routes\.yml: ok \(1 targets, 1 receivers, \d+ templates\)/);
  });

  it("prints every error as file:line: path: message and exits 1", async () => {
    const broken = file(
      "broken.yml",
      [
        "server: { listen: '8080', max_body: 1 lightyear }", // 1
        "targets:", // 2
        "  robot: { type: robot, webhook: ${MISSING_WEBHOOK} }", // 3
        "receivers:", // 4
        "  - { name: sre, targets: [robot] }", // 5
        "route:", // 6
        "  receiver: sre", // 7
        "  speed: fast", // 8
      ].join("\n"),
    );
    const { code, stderr } = await run(["check", "--config", broken], {});
    expect(code).toBe(1);
    expect(stderr).toContain(`${broken}:1: server.listen: must be HOST:PORT or :PORT`);
    expect(stderr).toContain(`${broken}:1: server.max_body: invalid size "1 lightyear"`);
    expect(stderr).toContain(`${broken}:3: targets.robot.webhook: environment variable MISSING_WEBHOOK is not set`);
    expect(stderr).toMatch(new RegExp(`${broken}:8: route.speed: unknown key "speed"`));
    expect(stderr).toMatch(/4 errors\n$/);
  });

  it("reports matcher, receiver, template and time zone errors with their lines", async () => {
    const config = file(
      "routes-bad.yml",
      [
        "templates: { timezone: Mars/Olympus }", // 1
        "targets: { robot: { type: robot, webhook: abcdefgh } }", // 2
        "receivers: [{ name: sre, targets: [robot] }]", // 3
        "route:", // 4
        "  receiver: sre", // 5
        "  routes:", // 6
        "    - matchers: ['severity=~\"(\"']", // 7
        "    - receiver: nobody", // 8
        "      template: nonexistent", // 9
      ].join("\n"),
    );
    const { code, stderr } = await run(["check", "--config", config], {});
    expect(code).toBe(1);
    expect(stderr).toContain(`${config}:7: route.routes[0].matchers[0]:`);
    expect(stderr).toContain(`${config}:8: route.routes[1].receiver: unknown receiver "nobody"`);
    expect(stderr).toContain(`${config}:1: templates.timezone: unknown time zone "Mars/Olympus"`);
  });

  it("reports route and template errors in the same run as schema errors", async () => {
    const config = file(
      "mixed.yml",
      [
        "server: { listen: '8080' }", // 1: schema
        "targets: { robot: { type: robot, webhook: abcdefgh } }",
        "receivers: [{ name: sre, targets: [robot] }]",
        "route:",
        "  receiver: sre",
        "  routes:",
        "    - matchers: ['severity=~\"(\"']", // 7: matcher
        "    - receiver: ghost", // 8: unknown receiver
        "      template: nope", // 9: missing template
      ].join("\n"),
    );
    const { code, stderr } = await run(["check", "--config", config], {});
    expect(code).toBe(1);
    for (const line of [1, 7, 8, 9]) expect(stderr).toContain(`${config}:${line}: `);
    expect(stderr).toMatch(/4 errors\n$/);
  });

  it("warns, without failing, about a markdown route that mentions @all", async () => {
    const config = file(
      "warn.yml",
      ["targets: { robot: { type: robot, webhook: abcdefgh } }", "receivers: [{ name: sre, targets: [robot] }]", "route:", "  receiver: sre", "  mention: ['@all']"].join("\n"),
    );
    const { code, stderr } = await run(["check", "--config", config], {});
    expect(code).toBe(0);
    expect(stderr).toContain(`warning: ${config}:5: route.mention: "@all" cannot be mentioned in markdown`);
  });

  it("names a missing config file and exits 1", async () => {
    const { code, stderr } = await run(["check", "--config", join(tmp.dir, "nope.yml")]);
    expect(code).toBe(1);
    expect(stderr).toContain("nope.yml");
  });

  it("never prints a secret in its errors", async () => {
    const config = file("secret.yml", "targets: { robot: { type: robot, webhook: ${HOOK} } }\nreceivers: []\nroute: { receiver: '${HOOK}' }\n");
    const { stderr } = await run(["check", "--config", config], { HOOK: "super-secret-robot-key-123" });
    expect(stderr.length).toBeGreaterThan(0);
    expect(stderr).not.toContain("super-secret-robot-key-123");
  });
});

describe("wecom-relay routes test", () => {
  it("prints the receivers an event reaches, with targets, template, format and mentions", async () => {
    const { code, stdout } = await run(["routes", "test", "source=alertmanager", "severity=critical", "status=firing"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe("sre\ttargets=sre-robot\ttemplate=alertmanager\tformat=text\tmention=@all\troute=route.routes[0]");
  });

  it("needs no secrets: it sends nothing", async () => {
    const { code, stdout } = await run(["routes", "test", "source=alertmanager", "severity=critical", "status=resolved"], {});
    expect(code).toBe(0);
    expect(stdout.trim()).toBe("sre\ttargets=sre-robot\ttemplate=alertmanager\tformat=markdown\troute=route");
  });

  it("exits 0 when --expect matches and 1 when it does not", async () => {
    expect((await run(["routes", "test", "--expect", "sre", "source=grafana"])).code).toBe(0);
    const miss = await run(["routes", "test", "--expect", "dev", "source=grafana"]);
    expect(miss.code).toBe(1);
    expect(miss.stderr).toContain("expected receivers dev, got sre");
  });

  it("treats a label without = as a usage error", async () => {
    expect((await run(["routes", "test", "severity"])).code).toBe(2);
  });
});

describe("wecom-relay render", () => {
  it("prints each message that would be sent, with its part and size, without sending", async () => {
    const payload = file("alert.json", JSON.stringify(alertmanagerPayload([{ name: "RenderMe", severity: "warning" }])));
    const { code, stdout } = await run(["render", "--source", "alertmanager", "--payload", payload]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^--- receiver=sre target=sre-robot msgtype=markdown part=1\/1 bytes=\d+\n/);
    expect(stdout).toContain("RenderMe");
  });

  it("renders an alert group as an interactive card for an app target with --format card", async () => {
    const config = file(
      "card.yml",
      [
        "alertmanager: { url: 'http://alertmanager:9093' }",
        "actions: { public_url: 'https://relay.example.com', secret: render-action-secret-0123 }",
        "targets:",
        `  app: { type: app, corp_id: ww1, secret: app-secret-0123, agent_id: 1000002, to_user: [zhangsan], callback: { token: cb, aes_key: ${"a".repeat(43)} } }`,
        "receivers:",
        "  - { name: oncall, targets: [app] }",
        "route: { receiver: oncall }",
      ].join("\n"),
    );
    const payload = file("card-alert.json", JSON.stringify(alertmanagerPayload([{ name: "CardMe", severity: "critical" }])));
    const { code, stdout } = await run(["render", "--config", config, "--source", "alertmanager", "--format", "card", "--payload", payload]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^--- receiver=oncall target=app msgtype=template_card part=1\/1 bytes=\d+\n/);
    const card = JSON.parse(stdout.split("\n")[1]!) as { card_type: string; button_list: { text: string }[]; card_action: { url: string } };
    expect(card.card_type).toBe("button_interaction");
    expect(card.button_list.map((button) => button.text)).toEqual(["Ack", "Silence 1h", "Silence 4h", "Silence 24h"]);
    expect(card.card_action.url).toMatch(/^https:\/\/relay\.example\.com\/actions\/g[\w-]+\?e=\d+&s=[\w-]{43}$/);
    expect(stdout).not.toContain("render-action-secret-0123");
  });

  it("splits a long message into numbered parts within the byte limit", async () => {
    const alerts = Array.from({ length: 60 }, (_, i) => ({ name: `Long${i}`, summary: "很长的摘要".repeat(30) }));
    const payload = file("storm.json", JSON.stringify(alertmanagerPayload(alerts)));
    const { code, stdout } = await run(["render", "--source", "alertmanager", "--format", "text", "--payload", payload]);
    expect(code).toBe(0);
    const headers = [...stdout.matchAll(/^--- .* part=(\d+)\/(\d+) bytes=(\d+)/gm)];
    expect(headers.length).toBeGreaterThan(1);
    for (const [, , total, bytes] of headers) {
      expect(Number(total)).toBe(headers.length);
      expect(Number(bytes)).toBeLessThanOrEqual(2048);
    }
  });

  it("renders a GitHub event named with --event, and requires --event for GitHub", async () => {
    const payload = file("pr.json", JSON.stringify(pullRequestPayload("opened")));
    const ok = await run(["render", "--source", "github", "--event", "pull_request", "--payload", payload]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("octo-org/payments");
    expect((await run(["render", "--source", "github", "--payload", payload])).code).toBe(2);
  });

  it("refuses a GitHub payload that does not fit the --event named, instead of rendering an empty message", async () => {
    const payload = file("pr-as-push.json", JSON.stringify(pullRequestPayload("opened")));
    const { code, stderr } = await run(["render", "--source", "github", "--event", "release", "--payload", payload], {});
    expect(code).toBe(1);
    expect(stderr).toContain("release: missing; a release event always has it");
  });

  it("renders the shipped examples with nothing set", async () => {
    const { code, stdout } = await run(["render", "--source", "alertmanager", "--payload", "examples/alertmanager-firing.json"], {});
    expect(code).toBe(0);
    expect(stdout).toContain("DiskFull");
  });

  it("exits 1 for a payload the source rejects, naming the field", async () => {
    const payload = file("bad.json", JSON.stringify({ version: "4", status: "firing" }));
    const { code, stderr } = await run(["render", "--source", "alertmanager", "--payload", payload]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/receiver: /);
  });
});

describe("usage errors", () => {
  it.each([
    [["bogus"], 'unknown command "bogus"'],
    [["check", "--nope"], "--nope"],
    [["render", "--source", "alertmanager"], "render needs --source and --payload"],
    [["render", "--source", "nagios", "--payload", "x.json"], 'unknown source "nagios"'],
    [["serve", "--listen", "nowhere"], 'invalid listen address "nowhere"'],
  ])("exits 2 for %j", async (args, message) => {
    const { code, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(stderr).toContain("Usage:");
  });

  it("exits 2 for an unknown WECOM_RELAY_LOG_LEVEL, naming the levels", async () => {
    const { code, stderr } = await run(["check"], { WECOM_RELAY_LOG_LEVEL: "verbose" });
    expect(code).toBe(2);
    expect(stderr).toContain("WECOM_RELAY_LOG_LEVEL must be one of error, warn, info, debug, silent");
  });

  it("prints the package version with --version and exits 0", async () => {
    const { code, stdout } = await run(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("runs as the built bin, through a link, as npm installs it", () => {
    const link = join(tmp.dir, "wecom-relay");
    symlinkSync(cliPath(), link);
    const result = spawnSync(process.execPath, [link, "routes", "test", "source=grafana"], {
      cwd: packageRoot(),
      env: { PATH: process.env.PATH },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^sre\ttargets=sre-robot/);
  });

  it("prints usage with --help and exits 0", async () => {
    const { code, stdout } = await run(["--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("wecom-relay routes test");
  });
});
