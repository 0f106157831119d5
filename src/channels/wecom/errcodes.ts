// WeCom answers failures with HTTP 200 and a non-zero errcode; this file decides what
// the relay does about each code. Decisions use the errcode only: WeCom's own advice is
// never to parse errmsg, which also carries request ids and the caller's IP.
import { redactCredentials } from "../../redact.js";
import { keepChars } from "../../truncate.js";
import type { SendResult } from "../../types.js";

/** Codes that are worth another attempt as they are; afterMs is a floor on the wait. */
const RETRY: ReadonlyMap<number, { afterMs?: number }> = new Map([
  [-1, {}],
  // WeCom blocks an over-limit robot or app for the rest of its one-minute window.
  [45009, { afterMs: 60_000 }],
  [45033, {}],
]);

/** The app's access_token was rejected: fetch a new one once and try again. */
const REFRESH_TOKEN: ReadonlySet<number> = new Set([40001, 40014, 41001, 42001]);

const MEANINGS: ReadonlyMap<number, string> = new Map([
  [-1, "WeCom system busy"],
  [40001, "invalid secret or access_token"],
  [40008, "invalid message type"],
  [40013, "invalid corp id"],
  [40014, "invalid access_token"],
  [40056, "invalid agent id"],
  [40058, "invalid parameter (often content over the byte limit)"],
  [41001, "access_token missing"],
  [42001, "access_token expired"],
  [44004, "message content is empty"],
  [45002, "content over the size limit"],
  [45009, "API frequency limit exceeded; WeCom blocks for the rest of its 60 s window"],
  [45033, "too many concurrent requests"],
  [48002, "API not permitted for this app"],
  [
    60020,
    "caller IP not trusted: add this host's egress IP to the app's 企业可信IP list in the WeCom admin console",
  ],
  [81013, "every recipient is invalid or outside the app's visible range"],
  [82001, "no recipients: to_user, to_party and to_tag are all empty"],
  [93000, "invalid webhook URL, or the robot was removed from its group"],
  [93004, "robot is disabled"],
  [93008, "robot is not in the group"],
  [301002, "access_token does not belong to this agent id"],
]);

const MAX_ERRMSG_LENGTH = 200;

/** Every errcode the relay knows by name: the values the errcode metric label may take, with "other". */
export const KNOWN_ERRCODES: readonly number[] = [...MEANINGS.keys()];

/** The errcode as a metric label: a known code, or "other", so no answer can create new series. */
export function errcodeLabel(errcode: number): string {
  return MEANINGS.has(errcode) ? String(errcode) : "other";
}


/**
 * One line for operators: `errcode N: <meaning>`. Unknown codes fall back to WeCom's
 * errmsg without its ", hint: [...] from ip ..." tail and without credentials.
 */
export function describeErrcode(errcode: number, errmsg: string): string {
  const meaning = MEANINGS.get(errcode);
  if (meaning !== undefined) return `errcode ${errcode}: ${meaning}`;
  const hintAt = errmsg.indexOf(", hint:");
  const reason = keepChars(redactCredentials(hintAt >= 0 ? errmsg.slice(0, hintAt) : errmsg).trim(), MAX_ERRMSG_LENGTH);
  return `errcode ${errcode}: ${reason === "" ? "unknown error" : reason}`;
}

/** What to do with a WeCom reply, from its errcode. Unknown codes are permanent. */
export function classifyErrcode(errcode: number, errmsg: string): SendResult {
  if (errcode === 0) return { kind: "ok" };
  const error = describeErrcode(errcode, errmsg);
  const retry = RETRY.get(errcode);
  if (retry !== undefined) return { kind: "retry", error, errcode, ...retry };
  if (REFRESH_TOKEN.has(errcode)) return { kind: "refreshToken", error, errcode };
  return { kind: "permanent", error, errcode };
}
