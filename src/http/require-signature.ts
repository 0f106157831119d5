// Express middlewares that require a body signature when one is configured; they run on
// the raw bytes, after rawBody and before the JSON parser.
import type { Request, RequestHandler } from "express";
import type { Config } from "../config/schema.js";
import { HttpError } from "./errors.js";
import { verifyGithubSignature, verifyGrafanaSignature } from "./signatures.js";

/** A signed Grafana request older (or newer) than this is refused as a possible replay. */
export const MAX_SIGNATURE_AGE_S = 300;

type GrafanaHmac = NonNullable<NonNullable<Config["auth"]["grafana"]>["hmac"]>;

function rawOf(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

/** GitHub signs every delivery when a secret is set; then a signature is required. */
export function requireGithubSignature(getSecret: () => string | undefined): RequestHandler {
  return (req, _res, next) => {
    const secret = getSecret();
    if (secret !== undefined && !verifyGithubSignature(secret, rawOf(req), req.get("X-Hub-Signature-256"))) {
      throw new HttpError(401, "missing or invalid X-Hub-Signature-256", { reason: "bad_signature" });
    }
    next();
  };
}

/** Grafana's HMAC, with its timestamp (when configured) no older than five minutes. */
export function requireGrafanaSignature(getHmac: () => GrafanaHmac | undefined, now: () => number = Date.now): RequestHandler {
  return (req, _res, next) => {
    const hmac = getHmac();
    if (!hmac) return next();
    const timestamp = hmac.timestamp_header === undefined ? undefined : (req.get(hmac.timestamp_header) ?? "");
    if (!verifyGrafanaSignature(hmac.secret, rawOf(req), req.get(hmac.header), timestamp)) {
      throw new HttpError(401, `missing or invalid ${hmac.header} signature`, { reason: "bad_signature" });
    }
    if (timestamp !== undefined && Math.abs(now() / 1000 - Number(timestamp)) > MAX_SIGNATURE_AGE_S) {
      throw new HttpError(401, "stale signature timestamp", { detail: { max_age_seconds: MAX_SIGNATURE_AGE_S }, reason: "stale_signature" });
    }
    next();
  };
}
