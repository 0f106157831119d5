// Creating and expiring silences through Alertmanager's API v2, or through Grafana's
// Alertmanager-compatible API. Failures come back as values, never as exceptions. Error
// texts name the host, never the URL, and an excerpt of the answer passes through the
// redactor first: a proxy or Alertmanager may echo the credentials back.
// The one base-URL-plus-path join (trailing slashes dropped): generic despite its name.
import { wecomUrl as urlUnder } from "../channels/wecom/http.js";
import { Redactor } from "../redact.js";
import { keepChars } from "../truncate.js";

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

export interface NewSilence {
  matchers: SilenceMatcher[];
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

export type SilenceResult = { ok: true; id: string } | { ok: false; error: string; status?: number };
export type ExpireResult = { ok: true } | { ok: false; error: string; status?: number };

export interface SilencesApi {
  readonly kind: "alertmanager" | "grafana";
  create(silence: NewSilence): Promise<SilenceResult>;
  expire(id: string): Promise<ExpireResult>;
}

export interface AlertmanagerApiConfig {
  url: string;
  bearer_token?: string | undefined;
  basic_auth?: { username: string; password: string } | undefined;
  /** Milliseconds for the whole exchange, answer body included. */
  timeout: number;
}

export interface GrafanaApiConfig {
  url: string;
  token: string;
  /** Milliseconds for the whole exchange, answer body included. */
  timeout: number;
}

/** Alertmanager's and Grafana's ids are UUIDs; anything beyond these characters could steer the path. */
export const SILENCE_ID = /^[A-Za-z0-9-]{1,128}$/;

/** How much of an error answer goes into an error text. */
const EXCERPT_CHARS = 200;

type Failure = { ok: false; error: string; status?: number };

interface Client {
  /** `{url}` with any userinfo, query and fragment removed; the API paths go under it. */
  base: string;
  /** For error texts: never the path, never the userinfo. */
  host: string;
  headers: Record<string, string>;
  timeout: number;
  redactor: Redactor;
}

/** POST {url}/api/v2/silences and DELETE {url}/api/v2/silence/{id}; `url` may carry a route prefix. */
export function alertmanagerSilences(config: AlertmanagerApiConfig): SilencesApi {
  const authorization = config.bearer_token
    ? { header: `Bearer ${config.bearer_token}`, secrets: [config.bearer_token] }
    : config.basic_auth
      ? basicAuthorization(config.basic_auth.username, config.basic_auth.password)
      : undefined;
  return silencesApi("alertmanager", clientFor(config.url, "/api/v2", config.timeout, authorization));
}

/** The same API as Alertmanager's, at {url}/api/alertmanager/grafana/api/v2, with a service account token. */
export function grafanaSilences(config: GrafanaApiConfig): SilencesApi {
  const authorization = { header: `Bearer ${config.token}`, secrets: [config.token] };
  return silencesApi("grafana", clientFor(config.url, "/api/alertmanager/grafana/api/v2", config.timeout, authorization));
}

interface Authorization {
  header: string;
  /** Everything the header carries that an error text must never show. */
  secrets: string[];
}

function basicAuthorization(username: string, password: string): Authorization {
  const encoded = Buffer.from(`${username}:${password}`, "utf8").toString("base64");
  return { header: `Basic ${encoded}`, secrets: [password, encoded] };
}

/** A client, or why there can be none: a bad URL fails each call rather than the construction. */
function clientFor(url: string, apiPath: string, timeout: number, authorization: Authorization | undefined): Client | Failure {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: "the API URL is not a valid URL" };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { ok: false, error: "the API URL must be http or https" };
  }

  const secrets = [...(authorization?.secrets ?? [])];
  let header = authorization?.header;
  // fetch refuses URLs with userinfo, so http://user:pass@host becomes basic auth, unless
  // the config gave credentials of its own.
  if (parsed.username !== "" || parsed.password !== "") {
    const username = decodeURIComponent(parsed.username);
    const password = decodeURIComponent(parsed.password);
    const fromUrl = basicAuthorization(username, password);
    secrets.push(username, ...fromUrl.secrets);
    header ??= fromUrl.header;
  }

  const redactor = new Redactor();
  redactor.setSecrets(secrets);
  const headers: Record<string, string> = { accept: "application/json" };
  if (header !== undefined) headers.authorization = header;
  return { base: urlUnder(`${parsed.origin}${parsed.pathname}`, apiPath), host: parsed.host, headers, timeout, redactor };
}

function silencesApi(kind: SilencesApi["kind"], client: Client | Failure): SilencesApi {
  return {
    kind,

    async create(silence) {
      if ("ok" in client) return client;
      const invalid = invalidSilence(silence);
      if (invalid !== undefined) return { ok: false, error: `invalid silence: ${invalid}` };

      const answer = await exchange(client, "POST", "/silences", requestBody(silence));
      if ("error" in answer) return answer;
      const { status, text } = answer;
      if (!isSuccess(status)) {
        return { ok: false, error: `creating the silence failed: HTTP ${status}: ${excerpt(text, client.redactor)}`, status };
      }
      const id = silenceIdOf(text);
      if (id === undefined) {
        return { ok: false, error: `HTTP ${status} answer from ${client.host} carries no valid silenceID`, status };
      }
      return { ok: true, id };
    },

    async expire(id) {
      if ("ok" in client) return client;
      // The id goes into the path: checked before anything is sent, and not echoed.
      if (typeof id !== "string" || !SILENCE_ID.test(id)) {
        return { ok: false, error: "invalid silence id: expected letters, digits and dashes" };
      }

      const answer = await exchange(client, "DELETE", `/silence/${id}`);
      if ("error" in answer) return answer;
      const { status, text } = answer;
      if (isSuccess(status)) return { ok: true };
      const message = excerpt(text, client.redactor);
      // Alertmanager before 0.25 refuses a second expiry (500 "silence <id> already
      // expired"); the silence is expired all the same.
      if (/already expired/i.test(message)) return { ok: true };
      // 404 from current versions and Grafana; Alertmanager 0.25 answers 500 "silence not found".
      if (status === 404 || /silence not found/i.test(message)) {
        return { ok: false, error: `no such silence ${id} (HTTP ${status}: ${message})`, status };
      }
      return { ok: false, error: `expiring silence ${id} failed: HTTP ${status}: ${message}`, status };
    },
  };
}

/** Why Alertmanager would refuse the silence (or silence too much), checked without asking it. */
function invalidSilence(silence: NewSilence): string | undefined {
  if (!Array.isArray(silence.matchers) || silence.matchers.length === 0) return "at least one matcher is needed";
  if (silence.matchers.some((matcher) => typeof matcher.name !== "string" || matcher.name.trim() === "")) {
    return "every matcher needs a label name";
  }
  const startsAt = silence.startsAt instanceof Date ? silence.startsAt.getTime() : NaN;
  const endsAt = silence.endsAt instanceof Date ? silence.endsAt.getTime() : NaN;
  if (!Number.isFinite(startsAt) || !Number.isFinite(endsAt)) return "startsAt and endsAt must be valid dates";
  if (endsAt <= startsAt) return "endsAt must be after startsAt";
  if (typeof silence.createdBy !== "string" || silence.createdBy.trim() === "") return "createdBy is empty";
  return undefined;
}

/** Only the fields of the API's PostableSilence, whatever else the caller's objects carry. */
function requestBody(silence: NewSilence): string {
  return JSON.stringify({
    matchers: silence.matchers.map(({ name, value, isRegex, isEqual }) => ({ name, value, isRegex, isEqual })),
    startsAt: silence.startsAt.toISOString(),
    endsAt: silence.endsAt.toISOString(),
    createdBy: silence.createdBy,
    comment: silence.comment,
  });
}

type Answer = { status: number; text: string } | Failure;

async function exchange(client: Client, method: "POST" | "DELETE", path: string, body?: string): Promise<Answer> {
  const headers = body === undefined ? client.headers : { ...client.headers, "content-type": "application/json" };
  try {
    const response = await fetch(`${client.base}${path}`, {
      method,
      headers,
      ...(body !== undefined && { body }),
      // A redirect would carry the credentials somewhere unplanned (often a login page): reported, not followed.
      redirect: "manual",
      signal: AbortSignal.timeout(client.timeout),
    });
    // Reading the body is under the same deadline: a server may stall mid-body.
    return { status: response.status, text: await response.text() };
  } catch (err) {
    return { ok: false, error: client.redactor.redact(transportError(err, client)) };
  }
}

function transportError(err: unknown, client: Client): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return `${client.host} did not answer within ${client.timeout} ms`;
  }
  // fetch wraps socket errors as TypeError("fetch failed", { cause }); the cause's code says what happened.
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  const code = typeof cause === "object" && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return `cannot reach ${client.host}: ${typeof code === "string" && code !== "" ? code : "request failed"}`;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The id from `{"silenceID": "…"}`, if the answer has a plain one. */
function silenceIdOf(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { silenceID?: unknown } | null)?.silenceID;
    return typeof id === "string" && SILENCE_ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One line of an error answer: Alertmanager's message (a JSON string, or an object with
 * `message`), else the raw text. Redacted before it is cut, so no secret survives in part.
 */
function excerpt(text: string, redactor: Redactor): string {
  let message = text;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === "string") message = parsed;
    else if (typeof (parsed as { message?: unknown } | null)?.message === "string") message = (parsed as { message: string }).message;
  } catch {
    // Not JSON: a proxy's page or plain text, taken as it is.
  }
  const line = redactor.redact(message).replace(/\s+/g, " ").trim();
  return line === "" ? "empty answer" : keepChars(line, EXCERPT_CHARS);
}
