// GitHub webhooks -> one Event per delivery (none for `ping`).
//
// GitHub's payloads differ per event and grow new fields and actions over time, so the
// only shape checked is that the body is an object and that the few fields that become
// labels have the types GitHub documents. Everything else is read defensively.
//
// Labels: source, event, action, repository, sender, ref, branch, status (each where it
// has a value). `ref` is the payload's own `ref` (deployment.ref for deployment events).
// `branch` is the branch the event is about:
//   - pull_request and review events: pull_request.base.ref, the branch the PR targets,
//     so routes can pick "PRs into main";
//   - push, workflow_dispatch, code_scanning_alert, merge_group: the ref without refs/heads/
//     (tags give no branch);
//   - create/delete of a branch: its name;
//   - workflow_run, workflow_job, check_run, check_suite: the head branch;
//   - repository_dispatch: the payload's `branch`.
// `status` is set only where an event clearly maps onto firing/resolved (see eventStatus).
//
// Template data: the payload with every field named `secret` removed, plus eventName,
// delivery, repo, repoUrl, actionText, branch, tag, shortSha, subject, htmlUrl and, for
// push, commitList (at most MAX_LISTED_COMMITS), commitCount and moreCommits.
import { z } from "zod";
import type { Event, Labels } from "../types.js";
import { eventId } from "./event-id.js";
import { keepChars } from "../truncate.js";
import { firstLink } from "./link.js";
import { parsePayload, type Parsed } from "./validate.js";

export interface GithubDelivery {
  /** X-GitHub-Event. */
  event: string;
  /** X-GitHub-Delivery: GitHub keeps it on a manual redelivery, so it identifies the event. */
  delivery?: string;
  /** The parsed JSON (or the form field `payload=`, parsed). */
  body: unknown;
}

/** Commits listed by name in a push message; the rest are counted. */
export const MAX_LISTED_COMMITS = 5;

const SUMMARY_MAX_CHARS = 200;

// Only the fields that become labels are checked: their types are stable in GitHub's schema.
const payloadSchema = z.looseObject({
  action: z.string().optional(),
  repository: z.looseObject({ full_name: z.string() }).nullish(),
  sender: z.looseObject({ login: z.string() }).nullish(),
  ref: z.string().nullish(),
});

type Payload = Record<string, unknown>;

export interface CommitLine {
  id: string;
  shortSha: string;
  /** The first line of the commit message. */
  title: string;
  author: string;
  url: string;
}

export function githubEvents(input: GithubDelivery): Parsed<Event[]> {
  const eventName = input.event.trim();
  if (eventName === "") {
    return { ok: false, field: "X-GitHub-Event", error: "X-GitHub-Event: header is missing or empty" };
  }
  const parsed = parsePayload(payloadSchema, input.body);
  if (!parsed.ok) return parsed;
  // GitHub's handshake when a webhook is created: answered, never forwarded.
  if (eventName === "ping") return { ok: true, value: [] };

  const missing = missingEventField(eventName, parsed.value);
  if (missing !== undefined) {
    return {
      ok: false,
      field: missing,
      error: `${missing}: missing; a ${eventName} event always has it (does X-GitHub-Event name the right event?)`,
    };
  }
  const payload = withoutSecrets(parsed.value) as Payload;
  const data = templateData(eventName, input.delivery, payload);
  const status = eventStatus(eventName, payload);
  const labels = eventLabels(eventName, payload, data, status);
  const event: Event = {
    id: githubEventId(eventName, input.delivery, payload),
    source: "github",
    labels,
    data,
    summary: summaryLine(eventName, data),
  };
  const link = firstLink(data.htmlUrl, data.repoUrl);
  if (link !== undefined) event.link = link;
  if (status !== undefined) event.status = status;
  return { ok: true, value: [event] };
}

// ---- secrets ----

/**
 * A deep copy without any field named `secret` (secret_scanning_alert's `alert.secret`
 * is the leaked credential itself; webhook configs carry one too). Copies through
 * Object.fromEntries so a `__proto__` key stays a plain field.
 */
export function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key.toLowerCase() !== "secret")
      .map(([key, item]) => [key, withoutSecrets(item)]),
  );
}

// ---- identity ----

// Delivery ids are GUIDs; anything else is hashed so ids stay short and printable.
const PLAIN_DELIVERY_ID = /^[A-Za-z0-9-]{1,64}$/;

function githubEventId(eventName: string, delivery: string | undefined, payload: Payload): string {
  if (delivery !== undefined && delivery !== "") {
    return PLAIN_DELIVERY_ID.test(delivery) ? `github-${delivery}` : eventId("github", delivery);
  }
  return eventId("github", eventName, payload);
}

// ---- labels ----

function eventLabels(eventName: string, payload: Payload, data: Payload, status: Event["status"]): Labels {
  const labels: Labels = { source: "github", event: eventName };
  const set = (name: string, value: unknown) => {
    if (typeof value === "string" && value !== "") labels[name] = value;
  };
  set("action", payload.action);
  set("repository", data.repo);
  set("sender", text(obj(payload.sender).login));
  set("ref", data.ref);
  set("branch", data.branch);
  set("status", status);
  return labels;
}

/**
 * The field GitHub always sends with each event: a payload without it was posted under
 * the wrong event name, and would render a message with nothing in it.
 */
const EVENT_FIELD: Readonly<Record<string, string>> = {
  push: "ref",
  pull_request: "pull_request",
  pull_request_review: "review",
  pull_request_review_comment: "comment",
  pull_request_review_thread: "thread",
  issues: "issue",
  issue_comment: "comment",
  release: "release",
  workflow_run: "workflow_run",
  workflow_job: "workflow_job",
  check_run: "check_run",
  check_suite: "check_suite",
  deployment: "deployment",
  deployment_status: "deployment_status",
  create: "ref",
  delete: "ref",
  status: "sha",
  dependabot_alert: "alert",
  code_scanning_alert: "alert",
  secret_scanning_alert: "alert",
};

function missingEventField(eventName: string, payload: Payload): string | undefined {
  const field = EVENT_FIELD[eventName];
  return field !== undefined && (payload[field] === undefined || payload[field] === null) ? field : undefined;
}

const CI_EVENTS = new Set(["workflow_run", "workflow_job", "check_run", "check_suite"]);
const SECURITY_ALERT_EVENTS = new Set([
  "dependabot_alert",
  "code_scanning_alert",
  "secret_scanning_alert",
  "repository_vulnerability_alert",
]);
const ALERT_OPENED = new Set(["created", "create", "reopened", "reopen", "reintroduced", "appeared_in_branch", "publicly_leaked"]);
const ALERT_CLOSED = new Set(["fixed", "resolved", "resolve", "dismissed", "dismiss", "auto_dismissed", "closed_by_user", "revoked"]);
const FAILED = new Set(["failure", "timed_out", "startup_failure", "error"]);

/**
 * firing/resolved only where the event says so plainly:
 *   - security alerts: opened/reopened → firing; fixed/dismissed/resolved → resolved;
 *   - workflow_run, workflow_job, check_run, check_suite once completed: a failed or
 *     timed-out conclusion → firing, success → resolved (cancelled, skipped, neutral: none);
 *   - deployment_status and commit `status`: failure/error → firing, success → resolved.
 * Everything else (pull requests, issues, pushes…) has no status.
 */
function eventStatus(eventName: string, payload: Payload): Event["status"] {
  const action = text(payload.action) ?? "";
  if (SECURITY_ALERT_EVENTS.has(eventName)) {
    if (ALERT_OPENED.has(action)) return "firing";
    if (ALERT_CLOSED.has(action)) return "resolved";
    return undefined;
  }
  let outcome: string | undefined;
  if (CI_EVENTS.has(eventName) && action === "completed") outcome = text(obj(payload[eventName]).conclusion);
  else if (eventName === "deployment_status") outcome = text(obj(payload.deployment_status).state);
  else if (eventName === "status") outcome = text(payload.state);
  if (outcome === undefined) return undefined;
  if (FAILED.has(outcome)) return "firing";
  return outcome === "success" ? "resolved" : undefined;
}

// ---- template data ----

function templateData(eventName: string, delivery: string | undefined, payload: Payload): Payload {
  const repository = obj(payload.repository);
  const refs = refNames(eventName, payload);
  const derived: Payload = {
    eventName,
    delivery,
    repo: text(repository.full_name),
    repoUrl: text(repository.html_url),
    actionText: actionText(eventName, payload),
    ...refs,
    shortSha: shortSha(headSha(eventName, payload)),
    subject: subjectOf(eventName, payload),
    htmlUrl: linkOf(payload),
    ...(eventName === "push" ? commitFields(payload) : {}),
  };
  // Derived fields win: `branch` of repository_dispatch is the same value anyway.
  return { ...payload, ...dropUndefined(derived) };
}

/** "merged" for a merged pull request (GitHub says "closed"); underscores read as spaces. */
function actionText(eventName: string, payload: Payload): string | undefined {
  const action = text(payload.action);
  if (action === undefined) return undefined;
  if (eventName === "pull_request" && action === "closed" && obj(payload.pull_request).merged === true) return "merged";
  return action.replace(/_/g, " ");
}

function refNames(eventName: string, payload: Payload): { ref?: string; branch?: string; tag?: string } {
  const ref = text(payload.ref) || text(obj(payload.deployment).ref);
  const out: { ref?: string | undefined; branch?: string | undefined; tag?: string | undefined } = {};
  if (ref) out.ref = ref;

  const baseRef = text(obj(obj(payload.pull_request).base).ref);
  if (baseRef) out.branch = baseRef;
  else if (ref?.startsWith("refs/heads/")) out.branch = ref.slice("refs/heads/".length);
  else if ((eventName === "create" || eventName === "delete") && payload.ref_type === "branch") out.branch = ref;
  else if (CI_EVENTS.has(eventName)) {
    const subject = obj(payload[eventName]);
    out.branch = text(subject.head_branch) || text(obj(subject.check_suite).head_branch);
  } else if (eventName === "merge_group") out.branch = stripPrefix(text(obj(payload.merge_group).base_ref), "refs/heads/");
  else if (eventName === "repository_dispatch") out.branch = text(payload.branch);

  if (ref?.startsWith("refs/tags/")) out.tag = ref.slice("refs/tags/".length);
  else if ((eventName === "create" || eventName === "delete") && payload.ref_type === "tag") out.tag = ref;
  else if (eventName === "release") out.tag = text(obj(payload.release).tag_name);
  return dropUndefined(out);
}

function headSha(eventName: string, payload: Payload): string | undefined {
  switch (eventName) {
    case "push":
      return text(payload.after);
    case "pull_request":
    case "pull_request_review":
    case "pull_request_review_comment":
      return text(obj(obj(payload.pull_request).head).sha);
    case "workflow_run":
    case "workflow_job":
    case "check_run":
    case "check_suite":
      return text(obj(payload[eventName]).head_sha);
    case "deployment":
    case "deployment_status":
      return text(obj(payload.deployment).sha);
    case "code_scanning_alert":
      return text(payload.commit_oid);
    case "status":
      return text(payload.sha);
    default:
      return undefined;
  }
}

function shortSha(sha: string | undefined): string | undefined {
  return sha && /^[0-9a-f]{7,}$/i.test(sha) ? sha.slice(0, 7) : undefined;
}

function commitFields(payload: Payload): Payload {
  const commits = Array.isArray(payload.commits) ? payload.commits.map(obj) : [];
  const commitList: CommitLine[] = commits.slice(0, MAX_LISTED_COMMITS).map((commit) => {
    const id = text(commit.id) ?? "";
    const author = obj(commit.author);
    return {
      id,
      shortSha: shortSha(id) ?? id,
      title: firstLine(text(commit.message) ?? ""),
      author: text(author.username) || text(author.name) || "",
      url: text(commit.url) ?? "",
    };
  });
  return { commitList, commitCount: commits.length, moreCommits: Math.max(0, commits.length - commitList.length) };
}

/** What the event is about, in a few words: "#12 Fix bug", "v1.2.0", "CI #36 failure". */
function subjectOf(eventName: string, payload: Payload): string | undefined {
  const numbered = (item: Payload) => joinWords(typeof item.number === "number" ? `#${item.number}` : undefined, text(item.title));
  const outcome = (item: Payload) => text(item.conclusion) || text(item.status);
  switch (eventName) {
    case "pull_request":
    case "pull_request_review":
    case "pull_request_review_comment":
    case "pull_request_review_thread":
      return numbered(obj(payload.pull_request));
    case "issues":
    case "issue_comment":
      return numbered(obj(payload.issue));
    case "push": {
      const count = Array.isArray(payload.commits) ? payload.commits.length : 0;
      const ref = text(payload.ref) ?? "";
      const name = stripPrefix(stripPrefix(ref, "refs/heads/"), "refs/tags/");
      return joinWords(name, `(${count} ${count === 1 ? "commit" : "commits"})`);
    }
    case "release":
      return text(obj(payload.release).tag_name);
    case "workflow_run": {
      const run = obj(payload.workflow_run);
      return joinWords(text(run.name), typeof run.run_number === "number" ? `#${run.run_number}` : undefined, outcome(run));
    }
    case "workflow_job":
    case "check_run": {
      const item = obj(payload[eventName]);
      return joinWords(text(item.name), outcome(item));
    }
    case "check_suite":
      return outcome(obj(payload.check_suite));
    case "deployment_status": {
      const status = obj(payload.deployment_status);
      return joinWords(text(status.environment) || text(obj(payload.deployment).environment), text(status.state));
    }
    case "dependabot_alert": {
      const alert = obj(payload.alert);
      const advisory = obj(alert.security_advisory);
      const pkg = obj(obj(alert.dependency).package);
      return joinWords(numbered(alert), text(advisory.severity), text(pkg.name));
    }
    case "code_scanning_alert": {
      const alert = obj(payload.alert);
      return joinWords(numbered(alert), text(obj(alert.rule).id));
    }
    case "create":
    case "delete":
      return joinWords(text(payload.ref_type), text(payload.ref));
    case "status":
      return joinWords(text(payload.context), text(payload.state));
    case "secret_scanning_alert": {
      const alert = obj(payload.alert);
      return joinWords(numbered(alert), text(alert.secret_type_display_name) || text(alert.secret_type));
    }
    default:
      return genericSubject(payload);
  }
}

// Context objects that most events carry; the subject is the first other object.
const CONTEXT_FIELDS = new Set(["repository", "sender", "organization", "installation", "enterprise", "changes", "hook"]);

function genericSubject(payload: Payload): string | undefined {
  for (const [key, value] of Object.entries(payload)) {
    if (CONTEXT_FIELDS.has(key) || value === null || typeof value !== "object" || Array.isArray(value)) continue;
    const item = value as Payload;
    const name = text(item.title) || text(item.name) || text(item.summary) || text(item.login) || text(item.full_name);
    if (name) return joinWords(typeof item.number === "number" ? `#${item.number}` : undefined, name);
  }
  return undefined;
}

// Objects whose html_url is the page the event is about, most specific first.
const LINK_FIELDS = [
  "comment",
  "review",
  "thread",
  "alert",
  "pull_request",
  "issue",
  "discussion",
  "release",
  "workflow_job",
  "workflow_run",
  "check_run",
  "milestone",
  "deployment_status",
  "forkee",
  "package",
] as const;

/** A link for the event: its subject's page, a push's compare view, or the repository. */
function linkOf(payload: Payload): string | undefined {
  for (const field of LINK_FIELDS) {
    const url = text(obj(payload[field]).html_url);
    if (url) return url;
  }
  return text(obj(payload.deployment_status).target_url) || text(payload.compare) || text(obj(payload.repository).html_url);
}

function summaryLine(eventName: string, data: Payload): string {
  const owner = text(data.repo) || text(obj(data.organization).login);
  const line = joinWords("[github]", owner, eventName, text(data.actionText), text(data.subject)) ?? "[github]";
  return keepChars(firstLine(line), SUMMARY_MAX_CHARS - 1);
}

// ---- small readers: payload fields are unknown until looked at ----

function obj(value: unknown): Payload {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Payload) : {};
}

function text(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function joinWords(...words: (string | undefined)[]): string | undefined {
  const present = words.filter((word): word is string => word !== undefined && word !== "");
  return present.length > 0 ? present.join(" ") : undefined;
}

function stripPrefix(value: string | undefined, prefix: string): string | undefined {
  return value?.startsWith(prefix) ? value.slice(prefix.length) : value;
}

function firstLine(value: string): string {
  return (value.split(/\r?\n/, 1)[0] ?? "").trim();
}

/** The object without its undefined fields, typed as such. */
function dropUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
