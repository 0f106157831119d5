// The one JSON error shape every endpoint answers with: {"error": "...", "detail": ...}.
import type { ErrorRequestHandler, Response } from "express";
import { logger } from "../log.js";
import { requestTraceFields } from "./receive-span.js";

/** Why a request was refused: the `reason` label of wecom_relay_requests_rejected_total, a closed set. */
export const REJECTION_REASONS = [
  "aborted",
  "address_denied",
  "address_not_allowed",
  "bad_content_type",
  "bad_encoding",
  "bad_form",
  "bad_json",
  "bad_payload",
  "bad_request",
  "bad_signature",
  "busy",
  "error",
  "internal",
  "jwks_unavailable",
  "not_dead",
  "not_found",
  "not_ready",
  "rate_limited",
  "stale",
  "stale_signature",
  "too_large",
  "unauthorized",
  "unknown_message",
  "unknown_receiver",
  "unknown_template",
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface HttpErrorOptions {
  /** Shown as `detail` in the answer. */
  detail?: unknown;
  /** Label for the rejection metric. */
  reason?: RejectionReason;
  headers?: Record<string, string>;
}

export class HttpError extends Error {
  readonly detail: unknown;
  readonly reason: RejectionReason;
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message);
    this.detail = options.detail;
    this.reason = options.reason ?? "error";
    this.headers = options.headers ?? {};
  }
}

export function sendError(res: Response, err: HttpError): void {
  res.status(err.status).set(err.headers).json({ error: err.message, ...(err.detail !== undefined && { detail: err.detail }) });
}

/** Maps body-parser failures and anything unexpected to the JSON error shape. */
export function errorHandler(onReject: (req: Parameters<ErrorRequestHandler>[1], err: HttpError, res: Response) => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500) logger.error("request failed", { path: req.path, error: err, ...requestTraceFields(res) });
    onReject(req, httpError, res);
    if (res.headersSent) return;
    sendError(res, httpError);
  };
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const bodyError = err as { type?: string; status?: number; limit?: number; message?: string };
  switch (bodyError.type) {
    case "entity.too.large":
      return new HttpError(413, "request body too large", { detail: { limit_bytes: bodyError.limit }, reason: "too_large" });
    case "entity.parse.failed":
      return new HttpError(400, "malformed JSON body", { detail: { reason: bodyError.message }, reason: "bad_json" });
    case "encoding.unsupported":
    case "charset.unsupported":
      return new HttpError(415, "unsupported body encoding or charset", { detail: { reason: bodyError.message }, reason: "bad_encoding" });
    case "request.aborted":
      return new HttpError(400, "request aborted by the client", { reason: "aborted" });
  }
  if (bodyError.status === 503) return new HttpError(503, "not ready", { detail: { reason: bodyError.message }, reason: "not_ready" });
  if (typeof bodyError.status === "number" && bodyError.status >= 400 && bodyError.status < 500) {
    return new HttpError(bodyError.status, bodyError.message ?? "bad request", { reason: "bad_request" });
  }
  return new HttpError(500, "internal error", { reason: "internal" });
}
