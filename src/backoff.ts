// Exponential backoff, the one rule for every "try again later" in the relay: retries of
// a delivery, a failing delivery worker, a failing access_token fetch.

/** `initialMs` doubled for each attempt after the first, capped at `maxMs`. */
export function exponentialDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}
