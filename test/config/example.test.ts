import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { packageRoot } from "../../src/paths.js";
import { loadRelay } from "../../src/app.js";

describe("the shipped example routes.yml", () => {
  const file = join(packageRoot(), "routes.yml");
  const env = {
    WECOM_ROBOT_WEBHOOK: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=example-key-0000",
    AM_TOKEN: "example-am-token-0001",
    RELAY_API_TOKEN: "example-api-token-0002",
  };

  it("loads, compiles its routes and templates, and pages @all in text while a critical alert fires", () => {
    const built = loadRelay(file, env);
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    const [critical] = built.relay.routes.match({ source: "alertmanager", severity: "critical", status: "firing" });
    expect(critical).toMatchObject({ receiver: "sre", format: "text", mention: ["@all"] });
    const [other] = built.relay.routes.match({ source: "alertmanager", severity: "warning", status: "firing" });
    expect(other).toMatchObject({ receiver: "sre", format: "markdown", template: "alertmanager" });
  });

  it("mentions nobody when a critical alert resolves", () => {
    const built = loadRelay(file, env);
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    const matches = built.relay.routes.match({ source: "alertmanager", severity: "critical", status: "resolved" });
    expect(matches).toEqual([expect.objectContaining({ receiver: "sre", format: "markdown", mention: [] })]);
  });

  it("loads with nothing set: the robot prints instead of sending, and the warning names the variable that makes it real", () => {
    const built = loadRelay(file, {});
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    expect(built.relay.printedTargets()).toEqual([{ name: "sre-robot", variables: ["WECOM_ROBOT_WEBHOOK"] }]);
    expect(built.relay.config.auth).toEqual({ alertmanager: {}, api: {} });
    expect(built.relay.config.server.listen).toBe("127.0.0.1:8080");
    expect(built.relay.warnings.map((w) => w.message)).toContainEqual(expect.stringContaining("set WECOM_ROBOT_WEBHOOK to send to a real robot"));
  });

  it("sends to a real robot, with inbound credentials, once the variables are set", () => {
    const built = loadRelay(file, env);
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    expect(built.relay.printedTargets()).toEqual([]);
    expect(built.relay.config.auth.alertmanager).toEqual({ bearer_token: env.AM_TOKEN });
    expect(built.relay.warnings).toEqual([]);
  });

  it("renders digests whose payload summaries cannot ping anyone in markdown", () => {
    const built = loadRelay(file, env);
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    const items = [{ summary: "[github] o/r issues opened #1 hi <@boss>", at: 0 }, { summary: "[FIRING:1] A", at: 1 }];
    const markdown = built.relay.renderDigest(items, { target: "sre-robot", receiver: "sre", msgtype: "markdown" });
    expect(markdown).toContain("2 notifications");
    expect(markdown).not.toContain("<@boss>");
  });

  it("treats the robot key as a secret", () => {
    const result = loadConfigFile(file, env);
    if ("errors" in result) throw new Error("load failed");
    expect(result.loaded.secrets).toEqual(expect.arrayContaining(["example-key-0000", "example-am-token-0001", "example-api-token-0002"]));
  });
});
