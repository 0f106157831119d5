import { describe, expect, it } from "vitest";
import { ConfigLoadError, formatConfigError, formatConfigPath, type ConfigError } from "../../src/config/errors.js";

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

describe("ConfigLoadError", () => {
  const errors: ConfigError[] = [
    { file: "routes.yml", line: 4, path: ["server", "listen"], message: "expected a string, got a list" },
    { file: "routes.yml", line: 9, path: ["receivers"], message: "must have at least 1 item" },
  ];

  it("carries every error and summarises the first in its message", () => {
    const error = new ConfigLoadError(errors);
    expect(error).toBeInstanceOf(Error);
    expect(error.errors).toEqual(errors);
    expect(error.message).toBe("routes.yml:4: server.listen: expected a string, got a list (and 1 more)");
  });

  it("still has a message when given no errors", () => {
    expect(new ConfigLoadError([]).message).toBe("invalid config");
  });
});
