// When to try a failed delivery again, and when to give up.
import { exponentialDelay } from "../backoff.js";
import { errcodeLabel, KNOWN_ERRCODES } from "../channels/wecom/errcodes.js";
import type { SendResult } from "../types.js";

export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  /** A delivery older than this is dead-lettered instead of retried. */
  maxAgeMs: number;
}

/** Why a delivery was given up: the `reason` label of wecom_relay_dead_letters_total, a closed set. */
export const DEAD_LETTER_REASONS = ["permanent", "max_age", ...KNOWN_ERRCODES.map((code) => `errcode_${code}`), "errcode_other"] as const;

export type RetryDecision = { action: "retry"; at: number } | { action: "dead"; reason: string; error: string };

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so
 * retries of many deliveries after one outage spread out instead of arriving together.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exponential = exponentialDelay(attempt, policy.initialMs, policy.maxMs);
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** What to do with a delivery whose send failed; `attempt` counts this one. */
export function decideRetry(
  result: Exclude<SendResult, { kind: "ok" }>,
  delivery: { attempts: number; createdAt: number },
  now: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): RetryDecision {
  if (result.kind === "permanent") {
    return { action: "dead", reason: result.errcode !== undefined ? `errcode_${errcodeLabel(result.errcode)}` : "permanent", error: result.error };
  }
  const attempt = delivery.attempts + 1;
  const delay = Math.max(backoffDelay(attempt, policy, random), result.kind === "retry" ? (result.afterMs ?? 0) : 0);
  const at = now + delay;
  if (at - delivery.createdAt > policy.maxAgeMs) {
    return { action: "dead", reason: "max_age", error: `gave up after ${attempt} attempts (max_age): ${result.error}` };
  }
  return { action: "retry", at };
}
