// JSON over HTTP to WeCom with a deadline. Transport trouble becomes a classified
// failure value, never an exception. Request URLs carry the robot key or access_token,
// so no error text built here ever contains the URL (or a body that might echo it).
import type { SendResult } from "../../types.js";
import { redactCredentials } from "../../redact.js";

export type HttpFailure = Extract<SendResult, { kind: "retry" | "permanent" }>;

/** A 2xx answer whose body parsed as JSON, or the reason there is none. */
export type JsonOutcome = { ok: true; status: number; json: unknown } | { ok: false; failure: HttpFailure };

export interface JsonRequestOptions {
  /** The whole exchange, body included, must finish within this many milliseconds. */
  timeoutMs: number;
}

/** A WeCom API URL: `path` (with its query) under `apiBase`, whatever trailing slashes the base has. */
export function wecomUrl(apiBase: string, path: string): string {
  return `${apiBase.replace(/\/+$/, "")}${path}`;
}

export function postJson(url: string, body: unknown, opts: JsonRequestOptions): Promise<JsonOutcome> {
  return requestJson(url, "POST", JSON.stringify(body), opts);
}

export function getJson(url: string, opts: JsonRequestOptions): Promise<JsonOutcome> {
  return requestJson(url, "GET", undefined, opts);
}

async function requestJson(
  url: string,
  method: "GET" | "POST",
  body: string | undefined,
  opts: JsonRequestOptions,
): Promise<JsonOutcome> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json; charset=utf-8";
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method, headers, ...(body !== undefined && { body }), signal: AbortSignal.timeout(opts.timeoutMs) });
    // Reading the body is under the same deadline: a server may stall mid-body.
    text = await response.text();
  } catch (err) {
    return { ok: false, failure: transportFailure(err, opts.timeoutMs, new URL(url).host) };
  }

  const statusFailure = classifyStatus(response);
  if (statusFailure) return { ok: false, failure: statusFailure };

  try {
    return { ok: true, status: response.status, json: JSON.parse(text) as unknown };
  } catch {
    // Typically a proxy's HTML error page; its text is left out as it may echo the URL.
    const type = response.headers.get("content-type") ?? "no content type";
    return {
      ok: false,
      failure: { kind: "retry", error: `HTTP ${response.status} response is not JSON (${redactCredentials(type)})`, class: "bad_response" },
    };
  }
}

function classifyStatus(response: Response): HttpFailure | undefined {
  const { status } = response;
  if (status >= 200 && status < 300) return undefined;
  const error = `HTTP ${status}${response.statusText ? ` ${redactCredentials(response.statusText)}` : ""}`;
  const failureClass = status >= 500 ? "http_5xx" : "http_4xx";
  if (status === 429) {
    const afterMs = retryAfterMs(response.headers.get("retry-after"));
    return afterMs === undefined ? { kind: "retry", error, class: failureClass } : { kind: "retry", error, afterMs, class: failureClass };
  }
  // 408 is a proxy giving up on a slow request: as transient as a 5xx.
  if (status >= 500 || status === 408) return { kind: "retry", error, class: failureClass };
  return { kind: "permanent", error, class: failureClass };
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Names the host (never the path or query, which carry the key or token): "which proxy?" is the first question. */
function transportFailure(err: unknown, timeoutMs: number, host: string): HttpFailure {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) {
    return { kind: "retry", error: `request to ${host} timed out after ${timeoutMs} ms`, class: "timeout" };
  }
  return { kind: "retry", error: `network error: ${networkReason(err)} (${host})`, class: "network" };
}

/** fetch wraps socket errors as TypeError("fetch failed", { cause }); the cause says what happened. */
function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  if (typeof cause === "object" && cause !== null) {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === "string" && code !== "") return code;
    if (typeof message === "string" && message !== "") return redactCredentials(message);
  }
  return "request failed";
}
