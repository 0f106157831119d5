// Inbound authentication per source: bearer token or basic auth, compared in constant time;
// on the trigger API also a JWT (see jwt.ts), beside the static credentials.
import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import type { InboundCredentials, JwtConfig } from "../config/schema.js";
import { HttpError } from "./errors.js";
import { jwtVerifierFor, looksLikeJwt, type JwtVerifier } from "./jwt.js";

/** What a source may be authenticated with: static credentials, and for the API a JWT. */
export type Credentials = Pick<InboundCredentials, "bearer_token" | "basic_auth"> & { jwt?: JwtConfig | undefined };

/** Constant-time string equality that also hides the length (both sides are hashed). */
export function safeEqual(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** The Authorization header the credentials call for; undefined when none are configured. */
export function expectedHeader(auth: Credentials): string | undefined {
  if (auth.bearer_token !== undefined) return `Bearer ${auth.bearer_token}`;
  if (auth.basic_auth === undefined) return undefined;
  const { username, password } = auth.basic_auth;
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** The header with its scheme spelt canonically: the scheme is case-insensitive (RFC 7235), the credentials are not. */
function normaliseScheme(given: string): string {
  return given.replace(/^(\S+)\s+/, (_m, scheme: string) => `${scheme[0]!.toUpperCase()}${scheme.slice(1).toLowerCase()} `);
}

/** True when an Authorization header carries the expected credentials. */
export function headerMatches(given: string, expected: string): boolean {
  return safeEqual(normaliseScheme(given), expected);
}

/** Requires the configured credentials; passes everything when none are configured. */
export function requireAuth(getAuth: () => Credentials | undefined, verifierFor: (config: JwtConfig) => JwtVerifier = jwtVerifierFor): RequestHandler {
  return (req, _res, next) => {
    const auth = getAuth();
    const expected = auth && expectedHeader(auth);
    const jwt = auth?.jwt;
    if (expected === undefined && jwt === undefined) return next();
    const given = req.headers.authorization ?? "";
    if (expected !== undefined && headerMatches(given, expected)) return next();
    const bearer = /^Bearer (\S+)$/.exec(normaliseScheme(given))?.[1];
    // Only a JWT is checked asynchronously (its key set may have to be fetched).
    if (jwt !== undefined && bearer !== undefined && looksLikeJwt(bearer)) return verifyJwt(verifierFor(jwt), bearer, next);
    const scheme = expected === undefined || expected.startsWith("Bearer") ? "Bearer" : 'Basic realm="wecom-relay"';
    throw new HttpError(401, given ? "invalid credentials" : "authentication required", { reason: "unauthorized", headers: {
      "WWW-Authenticate": scheme,
    } });
  };
}

async function verifyJwt(verify: JwtVerifier, token: string, next: () => void): Promise<void> {
  const check = await verify(token);
  if (check.ok) return next();
  if ("unavailable" in check) {
    throw new HttpError(503, "cannot verify the token now: the signing keys (jwks_url) could not be fetched", { reason: "jwks_unavailable", headers: { "Retry-After": "5" } });
  }
  throw new HttpError(401, "invalid token", { detail: { reason: check.reason }, reason: "unauthorized", headers: {
    "WWW-Authenticate": `Bearer error="invalid_token", error_description="${check.reason}"`,
  } });
}
