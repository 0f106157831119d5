import { describe, expect, it } from "vitest";
import { formatConfigError, formatConfigPath, type ConfigError } from "../../src/config/errors.js";

describe("formatConfigError", () => {
  it.each<[string, ConfigError, string]>([
    [
      "file, line, path and message",
      { file: "routes.yml", line: 12, path: ["route", "routes", 1, "matchers", 0], message: "bad matcher" },
      "routes.yml:12: route.routes[1].matchers[0]: bad matcher",
    ],
    ["no line", { file: "routes.yml", path: ["targets"], message: "at least one" }, "routes.yml: targets: at least one"],
    ["no path", { file: "routes.yml", line: 3, path: [], message: "bad indent" }, "routes.yml:3: bad indent"],
    ["neither line nor path", { file: "/etc/relay.yml", path: [], message: "cannot read" }, "/etc/relay.yml: cannot read"],
  ])("renders %s", (_name, error, expected) => {
    expect(formatConfigError(error)).toBe(expected);
  });
});

describe("formatConfigPath", () => {
  it.each<[(string | number)[], string]>([
    [["server", "listen"], "server.listen"],
    [["targets", "sre-robot", "webhook"], "targets.sre-robot.webhook"],
    [["receivers", 0, "targets", 2], "receivers[0].targets[2]"],
    [["targets", "ops.app", "secret"], 'targets["ops.app"].secret'],
    [["targets", "a b"], 'targets["a b"]'],
    [[3], "[3]"],
    [[], ""],
  ])("renders %j as %s", (path, expected) => {
    expect(formatConfigPath(path)).toBe(expected);
  });
});
