// Builders for realistic GitHub webhook payloads (trimmed to the fields GitHub always
// sends plus the ones messages use; shapes follow octokit/webhooks' schemas).

export const REPO = "octo-org/payments";
const HTML = `https://github.com/${REPO}`;

export const LEAKED_TOKEN = "ghp_R3alLooking7okenThatMustNeverLeave0000";

function user(login: string) {
  return { login, id: 1000 + login.length, type: "User", html_url: `https://github.com/${login}` };
}

function common() {
  return {
    repository: { id: 42, name: "payments", full_name: REPO, private: true, html_url: HTML, owner: user("octo-org") },
    organization: { login: "octo-org", id: 7 },
    sender: user("octocat"),
  };
}

const SHA = "9f2c4e1b7a0d3c5e8f6a1b2c3d4e5f6a7b8c9d0e";

export function pushPayload(options: { commits?: number; ref?: string; forced?: boolean; created?: boolean; deleted?: boolean } = {}) {
  const count = options.commits ?? 2;
  const commits = Array.from({ length: count }, (_, i) => {
    const id = `${String(i).padStart(2, "0")}${SHA.slice(2)}`;
    return {
      id,
      tree_id: SHA,
      distinct: true,
      message: `Fix rounding in invoice total #${i + 1}\n\nLonger explanation that stays out of the message.`,
      timestamp: "2025-06-01T08:00:00Z",
      url: `${HTML}/commit/${id}`,
      author: { name: "Mona Lisa", email: "mona@example.com", username: "mona" },
      committer: { name: "Mona Lisa", email: "mona@example.com", username: "mona" },
      added: [],
      removed: [],
      modified: ["src/invoice.ts"],
    };
  });
  return {
    ref: options.ref ?? "refs/heads/main",
    before: "1111111111111111111111111111111111111111",
    after: options.deleted ? "0000000000000000000000000000000000000000" : SHA,
    created: options.created ?? false,
    deleted: options.deleted ?? false,
    forced: options.forced ?? false,
    base_ref: null,
    compare: `${HTML}/compare/1111111...9f2c4e1`,
    commits,
    head_commit: commits.at(-1) ?? null,
    pusher: { name: "mona", email: "mona@example.com" },
    ...common(),
  };
}

export function pullRequestPayload(action: string, options: { merged?: boolean; body?: string; draft?: boolean } = {}) {
  return {
    action,
    number: 12,
    pull_request: {
      number: 12,
      title: "Fix rounding in invoice total",
      html_url: `${HTML}/pull/12`,
      state: action === "closed" ? "closed" : "open",
      draft: options.draft ?? false,
      merged: options.merged ?? false,
      merged_by: options.merged ? user("octocat") : null,
      body: options.body ?? "Invoices were rounded twice.\n\nThis rounds once, at the end.",
      user: user("mona"),
      head: { ref: "fix-rounding", sha: SHA },
      base: { ref: "main", sha: "1111111111111111111111111111111111111111" },
    },
    ...common(),
  };
}

export function pullRequestReviewPayload(state: "approved" | "changes_requested" | "commented") {
  const base = pullRequestPayload("opened");
  return {
    ...base,
    action: "submitted",
    review: {
      id: 80,
      state,
      body: "Please add a test for negative totals.",
      html_url: `${HTML}/pull/12#pullrequestreview-80`,
      user: user("hubot"),
    },
  };
}

export function issuesPayload(action: string) {
  return {
    action,
    issue: {
      number: 7,
      title: "Invoice PDF shows the wrong currency",
      html_url: `${HTML}/issues/7`,
      state: action === "closed" ? "closed" : "open",
      body: "Steps:\n1. Create an invoice in EUR\n2. Download the PDF",
      user: user("mona"),
      labels: [{ name: "bug" }, { name: "billing" }],
      assignees: [],
    },
    ...common(),
  };
}

export function issueCommentPayload(options: { onPullRequest?: boolean; body?: string } = {}) {
  const issue = issuesPayload("opened").issue;
  return {
    action: "created",
    issue: options.onPullRequest ? { ...issue, pull_request: { html_url: `${HTML}/pull/7` } } : issue,
    comment: {
      id: 501,
      body: options.body ?? "Reproduced on staging.\nLooking into it.",
      html_url: `${HTML}/issues/7#issuecomment-501`,
      user: user("hubot"),
    },
    ...common(),
  };
}

export function releasePayload(action = "published") {
  return {
    action,
    release: {
      tag_name: "v2.4.0",
      name: "Payments 2.4.0",
      html_url: `${HTML}/releases/tag/v2.4.0`,
      draft: false,
      prerelease: false,
      body: "## Changes\n- Faster invoices\n- Fewer bugs",
      author: user("mona"),
    },
    ...common(),
  };
}

export function workflowRunPayload(conclusion: string | null, action = "completed") {
  return {
    action,
    workflow: { name: "CI", path: ".github/workflows/ci.yml" },
    workflow_run: {
      id: 1589141559,
      name: "CI",
      display_title: "Fix rounding in invoice total",
      status: conclusion === null ? "in_progress" : "completed",
      conclusion,
      html_url: `${HTML}/actions/runs/1589141559`,
      head_branch: "main",
      head_sha: SHA,
      run_number: 36,
      run_attempt: 2,
      event: "push",
      actor: user("mona"),
    },
    ...common(),
  };
}

export function workflowJobPayload(conclusion: string | null) {
  return {
    action: conclusion === null ? "in_progress" : "completed",
    workflow_job: {
      id: 2832853555,
      run_id: 1589141559,
      name: "test (node 20)",
      workflow_name: "CI",
      head_branch: "main",
      head_sha: SHA,
      status: conclusion === null ? "in_progress" : "completed",
      conclusion,
      html_url: `${HTML}/actions/runs/1589141559/job/2832853555`,
      runner_name: "ubuntu-runner-3",
    },
    ...common(),
  };
}

export function checkRunPayload(conclusion: string | null) {
  return {
    action: conclusion === null ? "created" : "completed",
    check_run: {
      id: 128620228,
      name: "lint",
      head_sha: SHA,
      status: conclusion === null ? "queued" : "completed",
      conclusion,
      html_url: `${HTML}/runs/128620228`,
      details_url: "https://ci.example.com/lint/128620228",
      output: { title: "3 problems found", summary: null },
      app: { name: "Octo Linter" },
      check_suite: { head_branch: "fix-rounding", head_sha: SHA },
    },
    ...common(),
  };
}

export function deploymentStatusPayload(state: string) {
  return {
    action: "created",
    deployment_status: {
      state,
      environment: "production",
      description: "Deployed by the release pipeline",
      environment_url: "https://payments.example.com",
      log_url: "https://ci.example.com/deploy/99",
      target_url: "https://ci.example.com/deploy/99",
      creator: user("deploy-bot"),
    },
    deployment: { ref: "v2.4.0", sha: SHA, task: "deploy", environment: "production", creator: user("mona") },
    ...common(),
  };
}

export function dependabotAlertPayload(action = "created") {
  return {
    action,
    alert: {
      number: 3,
      state: action === "fixed" ? "fixed" : "open",
      html_url: `${HTML}/security/dependabot/3`,
      dependency: { package: { ecosystem: "npm", name: "lodash" }, manifest_path: "package-lock.json", scope: "runtime" },
      security_advisory: {
        ghsa_id: "GHSA-35jh-r3h4-6jhm",
        cve_id: "CVE-2021-23337",
        summary: "Command Injection in lodash",
        severity: "high",
      },
      security_vulnerability: {
        vulnerable_version_range: "< 4.17.21",
        first_patched_version: { identifier: "4.17.21" },
        severity: "high",
      },
    },
    ...common(),
  };
}

export function codeScanningAlertPayload(action = "created") {
  return {
    action,
    ref: "refs/heads/main",
    commit_oid: SHA,
    alert: {
      number: 10,
      state: action === "fixed" ? "fixed" : "open",
      html_url: `${HTML}/security/code-scanning/10`,
      rule: { id: "js/sql-injection", severity: "error", security_severity_level: "critical", description: "Database query built from user-controlled sources" },
      tool: { name: "CodeQL", version: "2.17.0" },
    },
    ...common(),
  };
}

export function secretScanningAlertPayload(action = "created") {
  return {
    action,
    alert: {
      number: 4,
      state: action === "resolved" ? "resolved" : "open",
      resolution: action === "resolved" ? "revoked" : null,
      html_url: `${HTML}/security/secret-scanning/4`,
      secret_type: "github_personal_access_token",
      secret_type_display_name: "GitHub Personal Access Token",
      secret: LEAKED_TOKEN,
      push_protection_bypassed: true,
    },
    ...common(),
  };
}

export function starPayload() {
  return { action: "created", starred_at: "2025-06-01T08:00:00Z", ...common() };
}

export function pingPayload() {
  return {
    zen: "Keep it logically awesome.",
    hook_id: 30,
    hook: { type: "Repository", id: 30, events: ["push"], config: { content_type: "json", secret: "********", url: "https://relay.example.com/webhook/github" } },
    ...common(),
  };
}
