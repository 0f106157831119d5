// Who may see the console: a request carrying the `auth.api` credentials, or a browser
// holding a session cookie it got by typing them into the login form. The cookie is
// signed with a key derived from those credentials, so every replica accepts it and
// changing the token ends every session. Forms carry a token bound to the session.
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Request } from "express";
import type { InboundCredentials } from "../config/schema.js";
import { expectedHeader, headerMatches, safeEqual } from "../http/auth.js";
import { cookie } from "../http/cookies.js";

export const SESSION_COOKIE = "wr_console";
/** A console session lasts a working day. */
export const SESSION_TTL_MS = 12 * 3_600_000;

/** Without credentials the console is open (as the API is); its form tokens still need a key. */
const OPEN_KEY = randomBytes(32);

export interface Viewer {
  /** What the form tokens are bound to: the session, or the credentials of a header. */
  binding: string;
  /** A browser session (it can log out), rather than a header or an open console. */
  session: boolean;
}

/**
 * The API takes only JWTs (auth.api.jwt without a static token): the console has nothing
 * to check a login against, so it is closed rather than open.
 */
export function jwtOnly(auth: InboundCredentials | undefined): boolean {
  return auth !== undefined && expectedHeader(auth) === undefined && "jwt" in auth && auth.jwt !== undefined;
}

function keyOf(expected: string | undefined): Buffer {
  if (expected === undefined) return OPEN_KEY;
  return createHash("sha256").update("wecom-relay console session\n").update(expected).digest();
}

function sign(key: Buffer, value: string): string {
  return createHmac("sha256", key).update(value).digest("base64url");
}

/** The viewer of a request, or undefined when it must log in first. */
export function viewerOf(req: Request, auth: InboundCredentials | undefined, now: number): Viewer | undefined {
  const expected = auth && expectedHeader(auth);
  if (expected === undefined) return jwtOnly(auth) ? undefined : { binding: "open", session: false };
  const header = req.headers.authorization;
  if (header !== undefined && headerMatches(header, expected)) return { binding: "header", session: false };
  const value = cookie(req, SESSION_COOKIE);
  const [expires, nonce, signature] = value?.split(".") ?? [];
  if (expires === undefined || nonce === undefined || signature === undefined || !/^\d{1,15}$/.test(expires)) return undefined;
  if (!safeEqual(signature, sign(keyOf(expected), `${expires}.${nonce}`)) || Number(expires) <= now) return undefined;
  return { binding: nonce, session: true };
}

/** True when typed credentials are the configured ones (the login form). */
export function credentialsMatch(auth: InboundCredentials | undefined, typed: { token?: string; username?: string; password?: string }): boolean {
  const expected = auth && expectedHeader(auth);
  if (expected === undefined) return !jwtOnly(auth);
  const given = auth!.bearer_token !== undefined ? `Bearer ${typed.token ?? ""}` : `Basic ${Buffer.from(`${typed.username ?? ""}:${typed.password ?? ""}`).toString("base64")}`;
  return headerMatches(given, expected);
}

/** A new session's cookie value. */
export function newSession(auth: InboundCredentials | undefined, now: number): string {
  const expires = String(now + SESSION_TTL_MS);
  const nonce = randomBytes(12).toString("base64url");
  return `${expires}.${nonce}.${sign(keyOf(auth && expectedHeader(auth)), `${expires}.${nonce}`)}`;
}

/** The token forms of this viewer carry; another session's (or a forged) one does not match. */
export function formToken(auth: InboundCredentials | undefined, viewer: Viewer): string {
  return sign(keyOf(auth && expectedHeader(auth)), `form:${viewer.binding}`);
}

export function formTokenMatches(auth: InboundCredentials | undefined, viewer: Viewer, given: unknown): boolean {
  return typeof given === "string" && given !== "" && safeEqual(given, formToken(auth, viewer));
}
