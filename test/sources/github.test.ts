import { describe, expect, it } from "vitest";
import { githubEvents, MAX_LISTED_COMMITS, withoutSecrets } from "../../src/sources/github.js";
import type { Event, Format } from "../../src/types.js";
import * as gh from "../support/github-payloads.js";
import { renderShipped } from "../support/shipped-render.js";

const DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

/** `delivery: null` sends no X-GitHub-Delivery. */
function githubEvent(event: string, body: unknown, delivery: string | null = DELIVERY): Event {
  const parsed = githubEvents(delivery === null ? { event, body } : { event, delivery, body });
  if (!parsed.ok) throw new Error(parsed.error);
  expect(parsed.value).toHaveLength(1);
  return parsed.value[0]!;
}

const repoLabels = { source: "github", repository: gh.REPO, sender: "octocat" };

describe("github source: labels", () => {
  it.each([
    ["push", gh.pushPayload(), { event: "push", ref: "refs/heads/main", branch: "main" }],
    ["push", gh.pushPayload({ ref: "refs/tags/v2.4.0", commits: 0, created: true }), { event: "push", ref: "refs/tags/v2.4.0" }],
    ["pull_request", gh.pullRequestPayload("opened"), { event: "pull_request", action: "opened", branch: "main" }],
    ["pull_request_review", gh.pullRequestReviewPayload("approved"), { event: "pull_request_review", action: "submitted", branch: "main" }],
    ["issues", gh.issuesPayload("opened"), { event: "issues", action: "opened" }],
    ["issue_comment", gh.issueCommentPayload(), { event: "issue_comment", action: "created" }],
    ["release", gh.releasePayload(), { event: "release", action: "published" }],
    ["workflow_run", gh.workflowRunPayload("failure"), { event: "workflow_run", action: "completed", branch: "main", status: "firing" }],
    ["workflow_job", gh.workflowJobPayload("success"), { event: "workflow_job", action: "completed", branch: "main", status: "resolved" }],
    ["check_run", gh.checkRunPayload(null), { event: "check_run", action: "created", branch: "fix-rounding" }],
    ["deployment_status", gh.deploymentStatusPayload("error"), { event: "deployment_status", action: "created", ref: "v2.4.0", status: "firing" }],
    ["dependabot_alert", gh.dependabotAlertPayload(), { event: "dependabot_alert", action: "created", status: "firing" }],
    ["code_scanning_alert", gh.codeScanningAlertPayload("fixed"), { event: "code_scanning_alert", action: "fixed", ref: "refs/heads/main", branch: "main", status: "resolved" }],
    ["secret_scanning_alert", gh.secretScanningAlertPayload(), { event: "secret_scanning_alert", action: "created", status: "firing" }],
    ["star", gh.starPayload(), { event: "star", action: "created" }],
  ])("labels a %s event with source, event, action, repository, sender, ref, branch and status where present", (name, body, expected) => {
    expect(githubEvent(name, body).labels).toEqual({ ...repoLabels, ...expected });
  });

  it("takes a branch from the ref of a create event for a branch, and none for a tag", () => {
    const { action: _action, ...context } = gh.starPayload();
    const branch = githubEvent("create", { ref: "feature/login", ref_type: "branch", ...context });
    const tag = githubEvent("create", { ref: "v1.0.0", ref_type: "tag", ...context });
    expect(branch.labels.branch).toBe("feature/login");
    expect(tag.labels.branch).toBeUndefined();
    expect(tag.data.tag).toBe("v1.0.0");
    expect(branch.summary).toBe("[github] octo-org/payments create branch feature/login");
  });

  it("takes the branch of repository_dispatch from the payload's branch field", () => {
    expect(githubEvent("repository_dispatch", { ...gh.starPayload(), action: "deploy", branch: "release" }).labels.branch).toBe("release");
  });

  it.each([
    ["workflow_run", gh.workflowRunPayload("failure"), "firing"],
    ["workflow_run", gh.workflowRunPayload("timed_out"), "firing"],
    ["workflow_run", gh.workflowRunPayload("success"), "resolved"],
    ["workflow_run", gh.workflowRunPayload("cancelled"), undefined],
    ["workflow_run", gh.workflowRunPayload("skipped"), undefined],
    ["workflow_run", gh.workflowRunPayload(null, "in_progress"), undefined],
    ["workflow_job", gh.workflowJobPayload("failure"), "firing"],
    ["check_run", gh.checkRunPayload("timed_out"), "firing"],
    ["check_run", gh.checkRunPayload("neutral"), undefined],
    ["deployment_status", gh.deploymentStatusPayload("failure"), "firing"],
    ["deployment_status", gh.deploymentStatusPayload("success"), "resolved"],
    ["deployment_status", gh.deploymentStatusPayload("in_progress"), undefined],
    ["dependabot_alert", gh.dependabotAlertPayload("reintroduced"), "firing"],
    ["dependabot_alert", gh.dependabotAlertPayload("fixed"), "resolved"],
    ["dependabot_alert", gh.dependabotAlertPayload("dismissed"), "resolved"],
    ["code_scanning_alert", gh.codeScanningAlertPayload("appeared_in_branch"), "firing"],
    ["code_scanning_alert", gh.codeScanningAlertPayload("closed_by_user"), "resolved"],
    ["secret_scanning_alert", gh.secretScanningAlertPayload("resolved"), "resolved"],
    ["secret_scanning_alert", gh.secretScanningAlertPayload("reopened"), "firing"],
    ["pull_request", gh.pullRequestPayload("closed", { merged: true }), undefined],
    ["push", gh.pushPayload(), undefined],
  ])("gives %s status %s when it says so plainly", (name, body, status) => {
    const event = githubEvent(name, body);
    expect(event.status).toBe(status);
    expect(event.labels.status).toBe(status);
  });
});

describe("github source: ping, ids and summaries", () => {
  it("answers a ping with no events", () => {
    expect(githubEvents({ event: "ping", delivery: DELIVERY, body: gh.pingPayload() })).toEqual({ ok: true, value: [] });
  });

  it("identifies the event by its delivery, so a redelivery keeps the id", () => {
    const first = githubEvent("push", gh.pushPayload(), DELIVERY);
    const redelivered = githubEvent("push", gh.pushPayload(), DELIVERY);
    const other = githubEvent("push", gh.pushPayload(), "0b989ba4-242f-11e5-81e1-c7b6966d2516");
    expect(first.id).toBe(`github-${DELIVERY}`);
    expect(redelivered.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
    expect(first.data.delivery).toBe(DELIVERY);
  });

  it("hashes a delivery id that is not a plain GUID", () => {
    const event = githubEvent("push", gh.pushPayload(), "weird id/with spaces");
    expect(event.id).toMatch(/^github-[0-9a-f]{16}$/);
  });

  it("falls back to a content id without a delivery header", () => {
    const a = githubEvent("push", gh.pushPayload(), null);
    const b = githubEvent("push", gh.pushPayload(), null);
    const c = githubEvent("push", gh.pushPayload({ commits: 3 }), null);
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
    expect(a.id).toMatch(/^github-[0-9a-f]{16}$/);
  });

  it.each([
    ["pull_request", gh.pullRequestPayload("opened"), "[github] octo-org/payments pull_request opened #12 Fix rounding in invoice total"],
    ["pull_request", gh.pullRequestPayload("closed", { merged: true }), "[github] octo-org/payments pull_request merged #12 Fix rounding in invoice total"],
    ["push", gh.pushPayload({ commits: 1 }), "[github] octo-org/payments push main (1 commit)"],
    ["workflow_run", gh.workflowRunPayload("failure"), "[github] octo-org/payments workflow_run completed CI #36 failure"],
    ["dependabot_alert", gh.dependabotAlertPayload(), "[github] octo-org/payments dependabot_alert created #3 high lodash"],
    ["secret_scanning_alert", gh.secretScanningAlertPayload(), "[github] octo-org/payments secret_scanning_alert created #4 GitHub Personal Access Token"],
    ["star", gh.starPayload(), "[github] octo-org/payments star created"],
  ])("summarises a %s event in one line", (name, body, summary) => {
    expect(githubEvent(name, body).summary).toBe(summary);
  });

  it("keeps the summary to one line however long the title", () => {
    const body = gh.pullRequestPayload("opened");
    body.pull_request.title = `${"x".repeat(300)}\nsecond line`;
    const summary = githubEvent("pull_request", body).summary;
    expect(summary).not.toContain("\n");
    expect(Array.from(summary).length).toBeLessThanOrEqual(200);
  });
});

describe("github source: template data", () => {
  it("lists at most a few commits of a push, first lines only, and counts the rest", () => {
    const data = githubEvent("push", gh.pushPayload({ commits: 8 })).data as {
      commitList: { shortSha: string; title: string; author: string; url: string }[];
      commitCount: number;
      moreCommits: number;
    };
    expect(data.commitList).toHaveLength(MAX_LISTED_COMMITS);
    expect(data.commitCount).toBe(8);
    expect(data.moreCommits).toBe(8 - MAX_LISTED_COMMITS);
    expect(data.commitList[0]).toMatchObject({ shortSha: "002c4e1", title: "Fix rounding in invoice total #1", author: "mona" });
  });

  it("derives eventName, repo, shortSha, actionText and a link for templates", () => {
    const data = githubEvent("pull_request", gh.pullRequestPayload("closed", { merged: true })).data;
    expect(data).toMatchObject({
      eventName: "pull_request",
      repo: gh.REPO,
      branch: "main",
      shortSha: "9f2c4e1",
      actionText: "merged",
      htmlUrl: "https://github.com/octo-org/payments/pull/12",
    });
  });

  it("links a generic event to its repository", () => {
    expect(githubEvent("star", gh.starPayload()).data.htmlUrl).toBe("https://github.com/octo-org/payments");
  });

  it("accepts events without a repository, such as organization-wide ones", () => {
    const event = githubEvent("security_advisory", { action: "published", security_advisory: { ghsa_id: "GHSA-1", summary: "Bad bug" } });
    expect(event.labels).toEqual({ source: "github", event: "security_advisory", action: "published" });
    expect(event.summary).toBe("[github] security_advisory published Bad bug");
  });

  it("keeps a __proto__ field as plain data", () => {
    const body = JSON.parse('{"action":"created","__proto__":{"polluted":true}}') as unknown;
    const data = githubEvent("star", body).data;
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect((data as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });
});

describe("github source: secrets", () => {
  it("removes secret_scanning_alert's alert.secret before templates see it", () => {
    const body = gh.secretScanningAlertPayload();
    const event = githubEvent("secret_scanning_alert", body);
    const alert = event.data.alert as Record<string, unknown>;
    expect(alert).not.toHaveProperty("secret");
    expect(alert.secret_type).toBe("github_personal_access_token");
    expect(JSON.stringify(event)).not.toContain(gh.LEAKED_TOKEN);
    // The caller's payload is left as it was.
    expect(body.alert.secret).toBe(gh.LEAKED_TOKEN);
  });

  it("removes a field named secret at any depth, in arrays too", () => {
    const cleaned = withoutSecrets({ a: { b: [{ secret: "s1", keep: 1 }], Secret: "s2" }, secret: "s3", secrets: "listed" });
    expect(cleaned).toEqual({ a: { b: [{ keep: 1 }] }, secrets: "listed" });
  });

  it.each(["markdown", "text"] as const)("never renders the leaked secret (%s)", (format) => {
    const rendered = renderShipped(githubEvent("secret_scanning_alert", gh.secretScanningAlertPayload()), format);
    expect(rendered.content).not.toContain(gh.LEAKED_TOKEN);
    expect(rendered.content).toContain("GitHub Personal Access Token");
  });
});

describe("github source: payload errors", () => {
  it.each([
    ["null", null],
    ["an array", [gh.starPayload()]],
    ["a string", "payload=%7B%7D"],
    ["a number", 42],
  ])("rejects a body that is %s, naming the body", (_what, body) => {
    const parsed = githubEvents({ event: "push", body });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe("(body)");
  });

  it.each([
    ["repository is a string", { ...gh.starPayload(), repository: "octo-org/payments" }, "repository"],
    ["repository.full_name is missing", { ...gh.starPayload(), repository: { id: 1 } }, "repository.full_name"],
    ["sender.login is a number", { ...gh.starPayload(), sender: { login: 7 } }, "sender.login"],
    ["action is not a string", { ...gh.starPayload(), action: 1 }, "action"],
    ["ref is an object", { ...gh.pushPayload(), ref: { name: "main" } }, "ref"],
  ])("rejects a payload whose %s, naming the field", (_what, body, field) => {
    const parsed = githubEvents({ event: "push", body });
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.field).toBe(field);
    expect(parsed.error.startsWith(`${field}: `)).toBe(true);
  });

  it("rejects a request without an event name", () => {
    const parsed = githubEvents({ event: " ", body: gh.starPayload() });
    expect(parsed).toMatchObject({ ok: false, field: "X-GitHub-Event" });
  });

  it("accepts a bare object for an event it has no special handling for", () => {
    expect(githubEvent("watch", {}).labels).toEqual({ source: "github", event: "watch" });
  });
});

function render(name: string, body: unknown, format: Format): string {
  const rendered = renderShipped(githubEvent(name, body), format, { template: "github" });
  expect(rendered.fallback).toBeUndefined();
  expect(rendered.messages).toHaveLength(1);
  return rendered.content;
}

describe("github templates", () => {
  // Each row: event, payload, what the markdown and the text must both say.
  it.each([
    ["push", gh.pushPayload({ commits: 7, forced: true }), ["Push to", "main", "002c4e1", "Fix rounding in invoice total #1", "…and 2 more", "force-push", "compare/1111111...9f2c4e1"]],
    ["push", gh.pushPayload({ commits: 0, ref: "refs/tags/v2.4.0", created: true }), ["Tag", "v2.4.0", "created"]],
    ["push", gh.pushPayload({ commits: 0, ref: "refs/heads/old", deleted: true }), ["Branch", "old", "deleted"]],
    ["pull_request", gh.pullRequestPayload("opened"), ["PR #12 opened", "Fix rounding in invoice total", "fix-rounding", "main", "Invoices were rounded twice. This rounds once", "pull/12"]],
    ["pull_request", gh.pullRequestPayload("closed", { merged: true }), ["PR #12", "merged", "pull/12"]],
    ["pull_request_review", gh.pullRequestReviewPayload("changes_requested"), ["Review on PR #12", "hubot", "requested changes", "negative totals"]],
    ["pull_request_review", gh.pullRequestReviewPayload("approved"), ["✅", "approved"]],
    ["issues", gh.issuesPayload("opened"), ["Issue #7 opened", "wrong currency", "bug", "billing", "issues/7"]],
    ["issue_comment", gh.issueCommentPayload(), ["Comment on issue #7", "hubot", "Reproduced on staging. Looking into it.", "issuecomment-501"]],
    ["issue_comment", gh.issueCommentPayload({ onPullRequest: true }), ["Comment on PR #7"]],
    ["release", gh.releasePayload(), ["Release Payments 2.4.0 published", "v2.4.0", "Faster invoices", "releases/tag/v2.4.0"]],
    ["workflow_run", gh.workflowRunPayload("failure"), ["❌", "Workflow CI failure", "#36", "attempt 2", "main", "9f2c4e1", "actions/runs/1589141559"]],
    ["workflow_job", gh.workflowJobPayload("success"), ["✅", "Job test (node 20) success", "ubuntu-runner-3", "job/2832853555"]],
    ["check_run", gh.checkRunPayload("failure"), ["❌", "Check lint failure", "Octo Linter", "3 problems found", "runs/128620228"]],
    ["deployment_status", gh.deploymentStatusPayload("failure"), ["❌", "Deployment to production failure", "v2.4.0", "ci.example.com/deploy/99"]],
    ["dependabot_alert", gh.dependabotAlertPayload(), ["Dependabot alert #3 created", "high", "lodash", "Command Injection", "< 4.17.21", "4.17.21", "CVE-2021-23337", "dependabot/3"]],
    ["dependabot_alert", gh.dependabotAlertPayload("fixed"), ["✅", "Dependabot alert #3 fixed"]],
    ["code_scanning_alert", gh.codeScanningAlertPayload(), ["Code scanning alert #10 created", "critical", "js/sql-injection", "CodeQL", "code-scanning/10"]],
    ["secret_scanning_alert", gh.secretScanningAlertPayload(), ["Secret scanning alert #4 created", "GitHub Personal Access Token", "Push protection was bypassed", "secret-scanning/4"]],
    ["star", gh.starPayload(), ["star created", "octo-org/payments", "by octocat"]],
  ])("renders the key content of a %s event", (name, body, expected) => {
    for (const format of ["markdown", "text"] as const) {
      const content = render(name, body, format);
      for (const piece of expected) expect(content, `${format} for ${name}`).toContain(piece);
      expect(content.split("\n")[0], "the first line names the repository").toContain(gh.REPO);
    }
  });

  it("writes markdown links and headings in markdown only", () => {
    const body = gh.pullRequestPayload("opened");
    expect(render("pull_request", body, "markdown")).toContain("**[Fix rounding in invoice total](https://github.com/octo-org/payments/pull/12)**");
    const text = render("pull_request", body, "text");
    expect(text).not.toMatch(/\]\(|\*\*|<font|^## /m);
  });

  it.each([
    ["pull_request", (body: string) => gh.pullRequestPayload("opened", { body })],
    ["issues", (body: string) => ({ ...gh.issuesPayload("opened"), issue: { ...gh.issuesPayload("opened").issue, body } })],
    ["issue_comment", (body: string) => gh.issueCommentPayload({ body })],
  ])("cuts a long %s body to a few hundred characters", (name, build) => {
    const long = `${"Lorem ipsum dolor sit amet. ".repeat(100)}END-OF-BODY`;
    for (const format of ["markdown", "text"] as const) {
      const content = render(name, build(long), format);
      expect(content).not.toContain("END-OF-BODY");
      expect(content).toContain("Lorem ipsum dolor sit amet.");
      expect(content).toContain("…");
      expect(content.length).toBeLessThan(1200);
    }
  });

  it("shows no body for pull request events other than opened", () => {
    expect(render("pull_request", gh.pullRequestPayload("labeled"), "markdown")).not.toContain("Invoices were rounded twice");
  });
});
