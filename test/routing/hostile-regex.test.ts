// A regex that backtracking engines take exponential time on, against the label value that
// triggers it. Alertmanager (Go's RE2) routes it in milliseconds; so must the relay, since
// label values come from senders. Before matchers ran on RE2, `routes test` with this
// config and label hung at 100% CPU.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/paths.js";
import { parseMatchers } from "../../src/routing/matchers.js";
import { compileRouteTree } from "../../src/routing/tree.js";
import { cliPath } from "../support/child-relay.js";
import { tempDir } from "../support/tmp.js";

const HOSTILE = 'path=~"(a+)+b"';
const VALUE = `${"a".repeat(40)}c`;

const tmp = tempDir();
afterAll(() => tmp.remove());

function config(name: string, matcher: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(
    path,
    [
      "targets: { robot: { type: robot, webhook: abcdefgh } }", // 1
      "receivers: [{ name: sre, targets: [robot] }, { name: dev, targets: [robot] }]", // 2
      "route:", // 3
      "  receiver: sre", // 4
      "  routes:", // 5
      `    - matchers: ['${matcher}']`, // 6
      "      receiver: dev", // 7
    ].join("\n"),
  );
  return path;
}

// Generous timeouts, as in test/cli.test.ts (starting the CLI takes seconds on a loaded
// machine): only a hang, the old behaviour, should ever come near them.
function run(args: string[]) {
  const result = spawnSync(process.execPath, [cliPath(), ...args], {
    cwd: packageRoot(),
    env: { PATH: process.env.PATH, WECOM_RELAY_LOG_LEVEL: "error" },
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

describe("a catastrophic-backtracking regex", () => {
  it("evaluates in linear time: 1000 hostile label values in a row", { timeout: 10_000 }, () => {
    const [matcher] = parseMatchers(HOSTILE);
    let matched = 0;
    for (let i = 0; i < 1000; i++) if (matcher!.matches(VALUE)) matched++;
    expect(matched).toBe(0);
    // The same regex still matches what it should, and a huge value is no problem either.
    expect(matcher!.matches("aaab")).toBe(true);
    expect(matcher!.matches(`${"a".repeat(100_000)}c`)).toBe(false);
    expect(matcher!.matches(`${"a".repeat(100_000)}b`)).toBe(true);
  });

  it("routes through the tree like Alertmanager: no match falls back to the root", { timeout: 10_000 }, () => {
    const compiled = compileRouteTree(
      { receiver: "sre", routes: [{ matchers: [HOSTILE], receiver: "dev" }] },
      new Set(["sre", "dev"]),
    );
    if ("errors" in compiled) throw new Error(JSON.stringify(compiled.errors));
    for (let i = 0; i < 1000; i++) {
      expect(compiled.tree.match({ path: VALUE }).map((m) => m.receiver)).toEqual(["sre"]);
    }
    expect(compiled.tree.match({ path: "ab" }).map((m) => m.receiver)).toEqual(["dev"]);
  });
});

describe("the CLI with a hostile regex (built dist/, as operators run it)", { timeout: 60_000 }, () => {
  it("`check` accepts the config: the regex is valid RE2, as in Alertmanager", () => {
    const file = config("hostile.yml", HOSTILE);
    const { code, stdout, stderr } = run(["check", "--config", file]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain(`${file}: ok`);
  });

  it("`routes test` answers instead of hanging", () => {
    const file = config("hostile.yml", HOSTILE);
    const { code, signal, stdout } = run(["routes", "test", "--config", file, `path=${VALUE}`]);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(stdout).toMatch(/^sre\t.*\troute=route\n$/);

    const matching = run(["routes", "test", "--config", file, "path=aaab"]);
    expect(matching.stdout).toMatch(/^dev\t.*\troute=route\.routes\[0\]\n$/);
  });

  it.each([
    ["lookahead", "a(?=b)", 'lookahead "(?="'],
    ["a backreference", "(a)\\\\1", 'backreferences "\\1"'],
  ])("`check` rejects %s at its file:line, saying RE2 does not support it", (_what, regex, feature) => {
    const file = config("unsupported.yml", `path=~"${regex}"`);
    const { code, stderr } = run(["check", "--config", file]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${file}:6: route.routes[0].matchers[0]: invalid regular expression ` +
        `${JSON.stringify(regex.replaceAll("\\\\", "\\"))}: RE2 (Alertmanager's regex engine) does not support ${feature}`,
    );
    expect(stderr).toMatch(/1 error\n$/);
  });
});
