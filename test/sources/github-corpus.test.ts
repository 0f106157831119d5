// Every example payload in @octokit/webhooks-examples (github.com and each GHES version)
// goes through the GitHub source, the routing tree and the shipped templates, as the
// relay would handle it: nothing may fail, fall back, exceed WeCom's limits, lose the
// repository's name or show a secret.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { RouteNodeConfig } from "../../src/config/schema.js";
import { byteLimit } from "../../src/wecom-limits.js";
import { renderMessages } from "../../src/render/render.js";
import { loadTemplates, shippedTemplatesDir, type TemplateSet } from "../../src/render/templates.js";
import { compileRouteTree, type RouteTree } from "../../src/routing/tree.js";
import { githubEvents } from "../../src/sources/github.js";
import { ROBOT } from "../support/shipped-render.js";
import { secretScanningAlertPayload } from "../support/github-payloads.js";

interface WebhookDefinition {
  name: string;
  examples: Record<string, unknown>[];
}

const require = createRequire(import.meta.url);
const examplesRoot = dirname(require.resolve("@octokit/webhooks-examples/package.json"));

/** One entry per corpus folder: "api.github.com", "ghes-35", … */
function corpora(): { corpus: string; definitions: WebhookDefinition[] }[] {
  return readdirSync(examplesRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({
      corpus: entry.name,
      definitions: JSON.parse(readFileSync(join(examplesRoot, entry.name, "index.json"), "utf8")) as WebhookDefinition[],
    }));
}

const cases = corpora().flatMap(({ corpus, definitions }) =>
  definitions.map((definition) => ({ corpus, event: definition.name, examples: definition.examples })),
);
// The corpus has no secret_scanning_alert carrying the leaked value itself: add one.
cases.push({ corpus: "built", event: "secret_scanning_alert", examples: [secretScanningAlertPayload()] });

/** The string values of every field named `secret`, at any depth. */
function secretValues(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((item) => secretValues(item, found));
  else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key.toLowerCase() === "secret" && typeof item === "string" && item !== "") found.push(item);
      else secretValues(item, found);
    }
  }
  return found;
}

// The routes.yml example from SPEC: GitHub events go to their own receiver and template.
const ROUTES: RouteNodeConfig = {
  receiver: "sre",
  routes: [
    { matchers: ['source="github"', 'event=~"pull_request|issues|release"'], receiver: "dev", template: "github" },
    { matchers: ['source="github"'], receiver: "sre", template: "github" },
  ],
};

let templates: TemplateSet;
let routes: RouteTree;

beforeAll(() => {
  const loaded = loadTemplates({ dirs: [shippedTemplatesDir()], timezone: "Asia/Shanghai" });
  if ("errors" in loaded) throw new Error(JSON.stringify(loaded.errors));
  templates = loaded.templates;
  const compiled = compileRouteTree(ROUTES, new Set(["sre", "dev"]));
  if ("errors" in compiled) throw new Error(JSON.stringify(compiled.errors));
  routes = compiled.tree;
});

describe("GitHub webhook examples corpus", () => {
  it("covers the events the default templates handle specially", () => {
    const names = new Set(cases.map((c) => c.event));
    for (const event of ["push", "pull_request", "pull_request_review", "issues", "issue_comment", "release", "workflow_run", "workflow_job", "check_run", "deployment_status", "dependabot_alert", "code_scanning_alert", "secret_scanning_alert"]) {
      expect(names, event).toContain(event);
    }
    expect(cases.reduce((sum, c) => sum + c.examples.length, 0)).toBeGreaterThan(300);
  });

  it.each(cases)("$corpus $event: every example renders within the robot limits, names its repository and shows no secret", ({ event, examples }) => {
    examples.forEach((body, index) => {
      const where = `${event} example ${index}`;
      const parsed = githubEvents({ event, delivery: `corpus-${index}`, body });
      if (!parsed.ok) throw new Error(`${where}: ${parsed.error}`);
      if (event === "ping") {
        expect(parsed.value, where).toEqual([]);
        return;
      }
      expect(parsed.value, where).toHaveLength(1);
      const routed = parsed.value[0]!;
      const [match] = routes.match(routed.labels);
      expect(match?.template, where).toBe("github");

      const repository = (body.repository as { full_name?: string } | undefined)?.full_name;
      const secrets = secretValues(body);
      for (const format of ["markdown", "text"] as const) {
        const result = renderMessages(routed, { ...match!, format }, [ROBOT], templates);
        expect(result.fallback, `${where} (${format})`).toBeUndefined();
        expect(result.messages.length, `${where} (${format})`).toBeGreaterThan(0);
        for (const message of result.messages) {
          expect(Buffer.byteLength(message.content, "utf8"), `${where} (${format})`).toBeLessThanOrEqual(byteLimit("robot", format));
          for (const secret of secrets) expect(message.content, `${where} (${format}) leaks a secret`).not.toContain(secret);
        }
        if (repository !== undefined) expect(result.messages[0]!.content, `${where} (${format})`).toContain(repository);
      }
    });
  });
});
