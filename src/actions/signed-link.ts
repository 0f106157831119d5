// Signed links to the per-group action page. WeCom robot messages cannot carry buttons,
// so each message carries a link that is only valid for its own group and for a limited
// time; whoever holds the link may silence that group, nothing else.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Opaque group ids are URL-safe as they are: no encoding in the path, no ambiguity. */
export const GROUP_ID = /^[A-Za-z0-9_-]{1,64}$/;
// Epoch seconds; 12 digits reach far past any sane expiry and keep the number exact.
const EXPIRY = /^[0-9]{1,12}$/;
// HMAC-SHA256 is 32 bytes: 43 base64url characters, no padding.
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

function signature(secret: string, groupId: string, e: string): string {
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(`${groupId}.${e}`, "utf8").digest("base64url");
}

export function signActionLink(opts: { publicUrl: string; secret: string; groupId: string; expiresAt: number }): string {
  const { publicUrl, secret, groupId, expiresAt } = opts;
  // The messages name neither the secret nor the id: both may come from configuration or payloads.
  if (!secret) throw new Error("action link secret is empty");
  if (!GROUP_ID.test(groupId)) throw new Error("action link group id must match [A-Za-z0-9_-]{1,64}");
  if (!Number.isFinite(expiresAt) || expiresAt <= 0) throw new Error("action link expiry must be a positive epoch time in ms");
  // Rounded down: a link never lives longer than asked.
  const e = String(Math.floor(expiresAt / 1000));
  const base = publicUrl.replace(/\/+$/, "");
  return `${base}/actions/${groupId}?e=${e}&s=${signature(secret, groupId, e)}`;
}

export type LinkCheck = { ok: true; expiresAt: number } | { ok: false; reason: "malformed" | "forged" | "expired" };

/**
 * Checks a link's group id, `e` and `s` as they arrive (query values may be absent,
 * repeated or nested, hence `unknown`). The signature is checked before the expiry, so
 * "expired" is only ever said of a link this relay really issued.
 */
export function verifyActionLink(secret: string, groupId: string, e: unknown, s: unknown, now: number): LinkCheck {
  if (typeof groupId !== "string" || !GROUP_ID.test(groupId)) return { ok: false, reason: "malformed" };
  if (typeof e !== "string" || !EXPIRY.test(e)) return { ok: false, reason: "malformed" };
  if (typeof s !== "string" || !SIGNATURE.test(s)) return { ok: false, reason: "malformed" };
  // No secret means no link can be genuine; never sign with an empty key.
  if (!secret) return { ok: false, reason: "forged" };
  // Compare the encoded text, not decoded bytes: the last base64url character has spare
  // bits, and decoding would accept more than one spelling of the same signature.
  const expected = Buffer.from(signature(secret, groupId, e), "ascii");
  const given = Buffer.from(s, "ascii");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "forged" };
  const expiresAt = Number(e) * 1000;
  if (now >= expiresAt) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt };
}

/** A fresh anti-forgery token for the action form: 256 random bits, base64url. */
export function csrfToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * Constant-time token equality. Both sides are hashed first so the comparison runs on
 * equal-length buffers and does not reveal the expected token's length.
 */
export function sameToken(a: unknown, b: unknown): boolean {
  if (typeof a !== "string" || typeof b !== "string" || a === "" || b === "") return false;
  const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}
