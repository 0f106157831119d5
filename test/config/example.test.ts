import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFile } from "../../src/config/load.js";
import { packageRoot } from "../../src/paths.js";
import { loadRelay } from "../../src/service.js";

describe("the shipped example routes.yml", () => {
  const file = join(packageRoot(), "routes.yml");
  const env = { WECOM_ROBOT_WEBHOOK: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=example-key-0000" };

  it("loads, compiles its routes and templates, and sends critical alerts as text mentioning @all", () => {
    const built = loadRelay(file, env);
    if ("errors" in built) throw new Error(JSON.stringify(built.errors));
    const [critical] = built.relay.routes.match({ source: "alertmanager", severity: "critical" });
    expect(critical).toMatchObject({ receiver: "sre", format: "text", mention: ["@all"] });
    const [other] = built.relay.routes.match({ source: "alertmanager", severity: "warning" });
    expect(other).toMatchObject({ receiver: "sre", format: "markdown", template: "alertmanager" });
  });

  it("names the missing robot webhook variable when it is not set", () => {
    const result = loadConfigFile(file, {});
    expect("errors" in result && result.errors.map((e) => e.message).join("\n")).toContain("WECOM_ROBOT_WEBHOOK");
  });

  it("treats the robot key as a secret", () => {
    const result = loadConfigFile(file, env);
    if ("errors" in result) throw new Error("load failed");
    expect(result.loaded.secrets).toContain("example-key-0000");
  });
});
