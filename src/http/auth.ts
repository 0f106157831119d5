// Inbound authentication per source: bearer token or basic auth, compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import type { InboundCredentials } from "../config/schema.js";
import { HttpError } from "./errors.js";

/** Constant-time string equality that also hides the length (both sides are hashed). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** The Authorization header the credentials call for; undefined when none are configured. */
export function expectedHeader(auth: InboundCredentials): string | undefined {
  if (auth.bearer_token !== undefined) return `Bearer ${auth.bearer_token}`;
  if (auth.basic_auth === undefined) return undefined;
  const { username, password } = auth.basic_auth;
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** True when an Authorization header carries the expected credentials. */
export function headerMatches(given: string, expected: string): boolean {
  // The scheme is case-insensitive (RFC 7235); the credentials are not.
  const normalised = given.replace(/^(\S+)\s+/, (_m, scheme: string) => `${scheme[0]!.toUpperCase()}${scheme.slice(1).toLowerCase()} `);
  return safeEqual(normalised, expected);
}

/** Requires the configured credentials; passes everything when none are configured. */
export function requireAuth(getAuth: () => InboundCredentials | undefined): RequestHandler {
  return (req, _res, next) => {
    const auth = getAuth();
    const expected = auth && expectedHeader(auth);
    if (expected === undefined) return next();
    const given = req.headers.authorization ?? "";
    if (!headerMatches(given, expected)) {
      const scheme = expected.startsWith("Bearer") ? "Bearer" : 'Basic realm="wecom-relay"';
      throw new HttpError(401, given ? "invalid credentials" : "authentication required", { reason: "unauthorized", headers: {
        "WWW-Authenticate": scheme,
      } });
    }
    next();
  };
}
