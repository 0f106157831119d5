import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { packageRoot } from "../../src/paths.js";
import { loadRelay } from "../../src/service.js";

describe("the shipped example routes.yml", () => {
  const file = join(packageRoot(), "routes.yml");
  const env = {
    WECOM_ROBOT_WEBHOOK: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=example-key-0000",
    AM_TOKEN: "example-am-token-0001",
    RELAY_API_TOKEN: "example-api-token-0002",
  };

  it("loads, compiles its routes and templates, and sends critical alerts as text mentioning @all", () => {
    const built = loadRelay(file, env);
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    const [critical] = built.relay.routes.match({ source: "alertmanager", severity: "critical" });
    expect(critical).toMatchObject({ receiver: "sre", format: "text", mention: ["@all"] });
    const [other] = built.relay.routes.match({ source: "alertmanager", severity: "warning" });
    expect(other).toMatchObject({ receiver: "sre", format: "markdown", template: "alertmanager" });
  });

  it("refuses to load without the robot webhook and the inbound tokens, naming each variable", () => {
    const result = loadConfigFile(file, {});
    const messages = "errors" in result ? result.errors.map((e) => e.message).join("\n") : "";
    for (const variable of ["WECOM_ROBOT_WEBHOOK", "AM_TOKEN", "RELAY_API_TOKEN"]) expect(messages).toContain(variable);
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
