import { describe, expect, it } from "vitest";
import type { RouteNodeConfig } from "../../src/config/schema.js";
import { compileRouteTree, type RouteError, type RouteTree } from "../../src/routing/tree.js";
import type { Labels } from "../../src/types.js";

const RECEIVERS = new Set(["sre", "dev", "db", "web", "oncall"]);

function compile(root: RouteNodeConfig): RouteTree {
  const result = compileRouteTree(root, RECEIVERS);
  if ("errors" in result) throw new Error(`unexpected route errors: ${JSON.stringify(result.errors)}`);
  return result.tree;
}

function errorsOf(root: RouteNodeConfig, receivers: ReadonlySet<string> = RECEIVERS): RouteError[] {
  const result = compileRouteTree(root, receivers);
  if ("tree" in result) throw new Error("expected the route config to be rejected");
  return result.errors;
}

/** "receiver@route" for each match: short enough to compare whole results in tables. */
function routed(tree: RouteTree, labels: Labels): string[] {
  return tree.match(labels).map((m) => `${m.receiver}@${m.route}`);
}

describe("RouteTree.match", () => {
  it("sends every event to the root when it has no children, with the defaults", () => {
    const tree = compile({ receiver: "sre" });
    expect(tree.match({ source: "alertmanager", alertname: "DiskFull" })).toEqual([
      { receiver: "sre", template: "alertmanager", format: "markdown", mention: [], route: "route" },
    ]);
  });

  describe("choosing among children", () => {
    const tree = compile({
      receiver: "sre",
      routes: [
        { matchers: ['team="db"'], receiver: "db", continue: true },
        { matchers: ['severity="critical"'], receiver: "oncall", continue: true },
        { matchers: ['team=~"db|web"'], receiver: "web" },
        { matchers: ['team="db"'], receiver: "dev" },
        { matchers: ['team="ops"'], receiver: "dev", continue: true },
      ],
    });
    const cases: [string, Labels, string[]][] = [
      ["falls back to the root when no child matches", { team: "search" }, ["sre@route"]],
      [
        "keeps going past children with continue: true",
        { team: "db", severity: "critical" },
        ["db@route.routes[0]", "oncall@route.routes[1]", "web@route.routes[2]"],
      ],
      [
        "stops at the first matching child without continue",
        { team: "db" },
        ["db@route.routes[0]", "web@route.routes[2]"],
      ],
      ["takes only the first match when no earlier child continues", { team: "web" }, ["web@route.routes[2]"]],
      [
        "does not fall back to the parent when only a continue child matched",
        { team: "ops" },
        ["dev@route.routes[4]"],
      ],
      [
        "takes a continue child alone when no later sibling matches",
        { team: "search", severity: "critical" },
        ["oncall@route.routes[1]"],
      ],
    ];
    it.each(cases)("%s", (_description, labels, expected) => {
      expect(routed(tree, labels)).toEqual(expected);
    });
  });

  describe("nested routes", () => {
    const tree = compile({
      receiver: "sre",
      routes: [
        {
          matchers: ['source="alertmanager"'],
          receiver: "oncall",
          routes: [
            { matchers: ['team="db"'], receiver: "db" },
            {
              matchers: ['team="web"'],
              receiver: "web",
              routes: [{ matchers: ['severity="critical"'], receiver: "oncall" }],
            },
          ],
        },
        { matchers: ['source="github"'], receiver: "dev" },
      ],
    });
    const cases: [string, Labels, string[]][] = [
      ["descends to the deepest matching route", { source: "alertmanager", team: "web", severity: "critical" }, [
        "oncall@route.routes[0].routes[1].routes[0]",
      ]],
      ["falls back to the nearest matching ancestor", { source: "alertmanager", team: "web", severity: "info" }, [
        "web@route.routes[0].routes[1]",
      ]],
      ["falls back two levels when no grandchild matches", { source: "alertmanager", team: "search" }, [
        "oncall@route.routes[0]",
      ]],
      // The first child matched, so its sibling is not tried even though it has no match below.
      ["does not try later siblings once a child matched", { source: "alertmanager", team: "db" }, [
        "db@route.routes[0].routes[0]",
      ]],
      ["skips a subtree whose own matchers fail", { source: "github", team: "db" }, ["dev@route.routes[1]"]],
      ["uses the root for an unmatched source", { source: "grafana", team: "db" }, ["sre@route"]],
    ];
    it.each(cases)("%s", (_description, labels, expected) => {
      expect(routed(tree, labels)).toEqual(expected);
    });
  });

  it("lets a continue child's siblings deliver even when the child routed deeper", () => {
    const tree = compile({
      receiver: "sre",
      routes: [
        { matchers: ['team="db"'], receiver: "db", continue: true, routes: [{ matchers: ['env="prod"'], receiver: "oncall" }] },
        { matchers: ['env="prod"'], receiver: "web" },
      ],
    });
    expect(routed(tree, { team: "db", env: "prod" })).toEqual(["oncall@route.routes[0].routes[0]", "web@route.routes[1]"]);
  });

  describe("matchers on one route", () => {
    const tree = compile({
      receiver: "sre",
      routes: [{ matchers: ['source="alertmanager"', '{severity=~"critical|page", env!="staging"}'], receiver: "oncall" }],
    });
    const cases: [string, Labels, string][] = [
      ["requires every matcher to match", { source: "alertmanager", severity: "critical", env: "prod" }, "oncall"],
      ["treats an absent label as empty for !=", { source: "alertmanager", severity: "page" }, "oncall"],
      ["rejects when one matcher of a brace list fails", { source: "alertmanager", severity: "page", env: "staging" }, "sre"],
      ["rejects when one matcher string fails", { source: "grafana", severity: "critical" }, "sre"],
      ["anchors regexes", { source: "alertmanager", severity: "critical-ish" }, "sre"],
    ];
    it.each(cases)("%s", (_description, labels, receiver) => {
      expect(tree.match(labels).map((m) => m.receiver)).toEqual([receiver]);
    });
  });

  it("does not mistake inherited object properties for labels", () => {
    const tree = compile({ receiver: "sre", routes: [{ matchers: ['constructor=""', 'toString!~".+"'], receiver: "dev" }] });
    expect(routed(tree, {})).toEqual(["dev@route.routes[0]"]);
  });

  describe("inheritance", () => {
    const tree = compile({
      receiver: "sre",
      format: "text",
      template: "base",
      mention: ["zhangsan"],
      routes: [
        {
          matchers: ["level=~[123]"],
          receiver: "oncall",
          routes: [
            {
              matchers: ["level=~[23]"],
              format: "markdown",
              routes: [{ matchers: ["level=3"], template: "deep", mention: ["@all"] }],
            },
          ],
        },
        { matchers: ["level=quiet"], mention: [] },
      ],
    });
    const cases: [string, string, object][] = [
      ["0", "the root's own settings", { receiver: "sre", format: "text", template: "base", mention: ["zhangsan"] }],
      ["1", "a changed receiver and the rest from the root", { receiver: "oncall", format: "text", template: "base", mention: ["zhangsan"] }],
      ["2", "the receiver from its parent and the template from the root", { receiver: "oncall", format: "markdown", template: "base", mention: ["zhangsan"] }],
      ["3", "fields from all three ancestors", { receiver: "oncall", format: "markdown", template: "deep", mention: ["@all"] }],
      ["quiet", "an explicitly empty mention list", { receiver: "sre", format: "text", template: "base", mention: [] }],
    ];
    it.each(cases)("gives level %s %s", (level, _description, expected) => {
      const matches = tree.match({ source: "api", level });
      expect(matches).toHaveLength(1);
      expect(matches[0]).toMatchObject(expected);
    });
  });

  describe("template default", () => {
    const tree = compile({ receiver: "sre", routes: [{ matchers: ['source="grafana"'], template: "grafana-short" }] });
    it.each([
      ["alertmanager", { source: "alertmanager" }, "alertmanager"],
      ["github", { source: "github" }, "github"],
      ["a route's template over the source", { source: "grafana" }, "grafana-short"],
      ["the generic api template without a source label", {}, "api"],
    ] as [string, Labels, string][])("uses %s", (_description, labels, template) => {
      expect(tree.match(labels).map((m) => m.template)).toEqual([template]);
    });
  });

  it("returns mention lists that callers may change without changing the tree", () => {
    const tree = compile({ receiver: "sre", mention: ["lisi"] });
    tree.match({ source: "api" })[0]!.mention.push("@all");
    expect(tree.match({ source: "api" })[0]!.mention).toEqual(["lisi"]);
  });

  it("routes the SPEC.md example as documented", () => {
    const tree = compile({
      receiver: "sre",
      format: "markdown",
      routes: [
        { matchers: ['source="github"', 'event=~"pull_request|issues|release"'], receiver: "dev", template: "github" },
        { matchers: ['source="alertmanager"', 'severity="critical"'], receiver: "sre", mention: ["@all"], continue: true },
        { matchers: ['source="grafana"'], receiver: "sre", template: "grafana" },
      ],
    });
    expect(tree.match({ source: "github", event: "push" })).toEqual([
      { receiver: "sre", template: "github", format: "markdown", mention: [], route: "route" },
    ]);
    expect(tree.match({ source: "github", event: "issues" })).toEqual([
      { receiver: "dev", template: "github", format: "markdown", mention: [], route: "route.routes[0]" },
    ]);
    expect(tree.match({ source: "alertmanager", severity: "critical", status: "resolved" })).toEqual([
      { receiver: "sre", template: "alertmanager", format: "markdown", mention: ["@all"], route: "route.routes[1]" },
    ]);
  });
});


describe("compileRouteTree errors", () => {
  it("reports every error at once, each with the path of its key", () => {
    const errors = errorsOf({
      routes: [
        { matchers: ['team="db"', 'severity=="critical"'], receiver: "db" },
        {
          matchers: ['team="web"'],
          receiver: "nobody",
          routes: [{ matchers: ['env=~"(prod"'] }, { matchers: ["{env=prod"], receiver: "ghost" }],
        },
      ],
    });
    expect(errors).toEqual([
      { path: ["route"], message: "the root route must name a receiver: it takes every event no other route takes" },
      {
        path: ["route", "routes", 0, "matchers", 1],
        message: `expected a label value after "=", found "=" (column 10 of 'severity=="critical"')`,
      },
      {
        path: ["route", "routes", 1, "receiver"],
        message: 'unknown receiver "nobody" (known receivers: db, dev, oncall, sre, web)',
      },
      {
        path: ["route", "routes", 1, "routes", 0, "matchers", 0],
        message: `invalid regular expression "(prod": missing ) (column 6 of 'env=~"(prod"')`,
      },
      {
        path: ["route", "routes", 1, "routes", 1, "receiver"],
        message: 'unknown receiver "ghost" (known receivers: db, dev, oncall, sre, web)',
      },
      {
        path: ["route", "routes", 1, "routes", 1, "matchers", 0],
        message: `missing closing "}" for the "{" at column 1 (column 10 of '{env=prod')`,
      },
    ]);
  });

  const rootCases: [string, RouteNodeConfig, RouteError[]][] = [
    [
      "a root without a receiver",
      { routes: [{ matchers: ["a=1"], receiver: "dev" }] },
      [{ path: ["route"], message: "the root route must name a receiver: it takes every event no other route takes" }],
    ],
    [
      "a root with matchers",
      { receiver: "sre", matchers: ['source="github"'] },
      [{ path: ["route", "matchers"], message: "the root route must not have matchers: it matches every event" }],
    ],
    [
      "a root with continue: true",
      { receiver: "sre", continue: true },
      [{ path: ["route", "continue"], message: "the root route must not set continue: it has no siblings" }],
    ],
    [
      "a root with an unknown receiver",
      { receiver: "nobody" },
      [{ path: ["route", "receiver"], message: 'unknown receiver "nobody" (known receivers: db, dev, oncall, sre, web)' }],
    ],
  ];
  it.each(rootCases)("rejects %s", (_description, root, expected) => {
    expect(errorsOf(root)).toEqual(expected);
  });

  it("accepts a root with an empty matcher list and continue: false", () => {
    expect(routed(compile({ receiver: "sre", matchers: [], continue: false }), {})).toEqual(["sre@route"]);
  });

  it("says so when no receivers are defined at all", () => {
    expect(errorsOf({ receiver: "sre" }, new Set())).toEqual([
      { path: ["route", "receiver"], message: 'unknown receiver "sre" (no receivers are defined)' },
    ]);
  });
});
