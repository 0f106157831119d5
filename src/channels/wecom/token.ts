// The app access_token cache: one token per corp+secret (and API base), shared by every
// app target that uses those credentials and kept across config reloads. WeCom rate-blocks
// callers that fetch tokens often, so a token is fetched once, by one request at a time,
// refreshed ahead of its expiry, and a failed fetch is not repeated for a while.
import { createHash } from "node:crypto";
import { exponentialDelay } from "../../backoff.js";
import { logger, redactor } from "../../log.js";
import type { Metrics } from "../../metrics.js";
import type { TokenState } from "../channel.js";
import { classifyErrcode, describeErrcode, errcodeLabel } from "./errcodes.js";
import { getJson, wecomUrl, type HttpFailure } from "./http.js";

/** What identifies one app's token. */
export interface AppCredentials {
  /** e.g. https://qyapi.weixin.qq.com; a proxy or test server has its own tokens. */
  apiBase: string;
  corpId: string;
  secret: string;
}

/** Who asks for a token: for the refresh metric and log lines. */
export interface TokenRequester {
  target: string;
  timeoutMs: number;
  metrics?: Metrics;
}

export type TokenOutcome = { ok: true; token: string } | { ok: false; failure: HttpFailure };

export interface TokenCacheOptions {
  /** Refresh once this fraction of a token's lifetime has passed (default 0.9)... */
  refreshFraction?: number;
  /** ...or this long before it expires, whichever comes first (default 5 min). */
  refreshMarginMs?: number;
  /** After a fetch that failed for good (wrong secret), sends fail fast for this long (default 5 s), doubling per failure. */
  failureBackoffMs?: number;
  /** Ceiling of that doubling (default 5 min). */
  maxFailureBackoffMs?: number;
  /**
   * After a transient failure (-1, HTTP 5xx, network), the next fetch is tried this soon
   * (default 1 s), doubling up to `maxTransientBackoffMs` (default 10 s): WeCom's recovery
   * must reach app targets within seconds.
   */
  transientBackoffMs?: number;
  maxTransientBackoffMs?: number;
  /** Clock in epoch ms (default Date.now). */
  now?: () => number;
}

interface Entry {
  token?: string | undefined;
  refreshAt: number;
  expiresAt: number;
  inflight?: Promise<TokenOutcome> | undefined;
  /** Consecutive failed fetches, for the backoff. */
  failures: number;
  failedUntil: number;
  lastFailure?: HttpFailure | undefined;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly refreshFraction: number;
  private readonly refreshMarginMs: number;
  private readonly failureBackoffMs: number;
  private readonly maxFailureBackoffMs: number;
  private readonly transientBackoffMs: number;
  private readonly maxTransientBackoffMs: number;
  private readonly now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.refreshFraction = options.refreshFraction ?? 0.9;
    this.refreshMarginMs = options.refreshMarginMs ?? 300_000;
    this.failureBackoffMs = options.failureBackoffMs ?? 5_000;
    this.maxFailureBackoffMs = options.maxFailureBackoffMs ?? 300_000;
    this.transientBackoffMs = options.transientBackoffMs ?? 1_000;
    this.maxTransientBackoffMs = options.maxTransientBackoffMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * A usable token, fetching one if needed. Callers that arrive while a fetch is under
   * way share it; a token due for refresh but not yet expired is still handed out while
   * its replacement is fetched in the background.
   */
  async get(credentials: AppCredentials, requester: TokenRequester): Promise<TokenOutcome> {
    const entry = this.entry(credentials);
    const now = this.now();
    if (entry.token !== undefined && now < entry.expiresAt) {
      if (now >= entry.refreshAt && entry.inflight === undefined && now >= entry.failedUntil) {
        this.fetch(entry, credentials, requester).catch((err: unknown) => {
          logger.error("app access_token background refresh failed", { target: requester.target, error: err });
        });
      }
      return { ok: true, token: entry.token };
    }
    if (entry.inflight !== undefined) return entry.inflight;
    if (now < entry.failedUntil && entry.lastFailure !== undefined) {
      return { ok: false, failure: backingOff(entry.lastFailure, entry.failedUntil - now) };
    }
    return this.fetch(entry, credentials, requester);
  }

  /**
   * WeCom rejected `token` (revoked or expired early): forget it so the next get()
   * fetches a new one. A token that was already replaced is left alone, so many sends
   * failing with the same old token cause one fetch, not one each.
   */
  invalidate(credentials: AppCredentials, token: string): void {
    const entry = this.entries.get(cacheKey(credentials));
    if (entry?.token !== token) return;
    entry.token = undefined;
    entry.expiresAt = 0;
    entry.refreshAt = 0;
  }

  /** The token's expiry and the fetch backoff for these credentials, without fetching anything. */
  state(credentials: AppCredentials): TokenState {
    const entry = this.entries.get(cacheKey(credentials));
    if (!entry) return { expiresAt: 0, backoffUntil: 0 };
    return { expiresAt: entry.token === undefined ? 0 : entry.expiresAt, backoffUntil: entry.failedUntil };
  }

  private entry(credentials: AppCredentials): Entry {
    const key = cacheKey(credentials);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { refreshAt: 0, expiresAt: 0, failures: 0, failedUntil: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** Single flight: the one fetch for this entry, shared by everyone who waits. */
  private fetch(entry: Entry, credentials: AppCredentials, requester: TokenRequester): Promise<TokenOutcome> {
    if (entry.inflight !== undefined) return entry.inflight;
    const inflight = this.fetchOnce(entry, credentials, requester).finally(() => {
      entry.inflight = undefined;
    });
    entry.inflight = inflight;
    return inflight;
  }

  private async fetchOnce(entry: Entry, credentials: AppCredentials, requester: TokenRequester): Promise<TokenOutcome> {
    // Lifetimes count from the request, not the answer: never trust a token longer than WeCom does.
    const startedAt = this.now();
    const fetched = await requestToken(credentials, requester.timeoutMs);
    const { target, metrics } = requester;
    if (!fetched.ok) {
      metrics?.tokenRefreshes.inc({ target, result: "failure" });
      if (fetched.failure.errcode !== undefined) metrics?.wecomErrors.inc({ target, errcode: errcodeLabel(fetched.failure.errcode) });
      entry.failures += 1;
      const transient = fetched.failure.kind === "retry";
      const [base, ceiling] = transient ? [this.transientBackoffMs, this.maxTransientBackoffMs] : [this.failureBackoffMs, this.maxFailureBackoffMs];
      const backoff = exponentialDelay(entry.failures, base, ceiling);
      entry.failedUntil = this.now() + backoff;
      entry.lastFailure = fetched.failure;
      logger.warn("app access_token fetch failed", {
        target,
        corp_id: credentials.corpId,
        error: fetched.failure.error,
        backoff_ms: backoff,
      });
      // A token that is due for refresh but not yet expired still works.
      if (entry.token !== undefined && this.now() < entry.expiresAt) return { ok: true, token: entry.token };
      return fetched;
    }

    redactor.addSecret(fetched.token);
    metrics?.tokenRefreshes.inc({ target, result: "success" });
    const lifetimeMs = fetched.expiresInS * 1000;
    entry.token = fetched.token;
    entry.expiresAt = startedAt + lifetimeMs;
    entry.refreshAt = startedAt + lifetimeMs - this.refreshLeadMs(lifetimeMs);
    entry.failures = 0;
    entry.failedUntil = 0;
    entry.lastFailure = undefined;
    logger.debug("app access_token fetched", { target, corp_id: credentials.corpId, expires_in_s: fetched.expiresInS });
    return { ok: true, token: fetched.token };
  }

  /**
   * How long before expiry to refresh: the larger of the fraction's and the margin's lead,
   * but never more than half the lifetime, so a short-lived token is not refetched on every send.
   */
  private refreshLeadMs(lifetimeMs: number): number {
    const lead = Math.max(lifetimeMs * (1 - this.refreshFraction), this.refreshMarginMs);
    return Math.min(lead, lifetimeMs / 2);
  }
}

/** The last fetch's failure, answered without asking WeCom until the backoff ends. */
function backingOff(last: HttpFailure, waitMs: number): HttpFailure {
  const error = `${last.error} (gettoken not retried for another ${waitMs} ms)`;
  if (last.kind === "permanent") return { ...last, error };
  return { ...last, error, afterMs: Math.max(waitMs, last.afterMs ?? 0) };
}

/** The map key: never the secret itself, which must not end up in any dump or log. */
function cacheKey({ apiBase, corpId, secret }: AppCredentials): string {
  const secretHash = createHash("sha256").update(secret).digest("hex");
  return `${wecomUrl(apiBase, "")} ${corpId} ${secretHash}`;
}

type Fetched = { ok: true; token: string; expiresInS: number } | { ok: false; failure: HttpFailure };

async function requestToken(credentials: AppCredentials, timeoutMs: number): Promise<Fetched> {
  const { apiBase, corpId, secret } = credentials;
  const url =
    wecomUrl(apiBase, `/cgi-bin/gettoken?corpid=${encodeURIComponent(corpId)}&corpsecret=${encodeURIComponent(secret)}`);
  const outcome = await getJson(url, { timeoutMs });
  if (!outcome.ok) return { ok: false, failure: { ...outcome.failure, error: `gettoken: ${outcome.failure.error}` } };

  const reply = outcome.json as { errcode?: unknown; errmsg?: unknown; access_token?: unknown; expires_in?: unknown } | null;
  if (typeof reply !== "object" || reply === null) {
    return { ok: false, failure: { kind: "retry", error: "gettoken: unexpected WeCom response", class: "bad_response" } };
  }
  const errcode = typeof reply.errcode === "number" ? reply.errcode : 0;
  if (errcode !== 0) return { ok: false, failure: gettokenFailure(errcode, typeof reply.errmsg === "string" ? reply.errmsg : "", corpId) };
  const { access_token: token, expires_in: expiresIn } = reply;
  if (typeof token !== "string" || token === "" || typeof expiresIn !== "number" || !(expiresIn > 0)) {
    return { ok: false, failure: { kind: "retry", error: "gettoken: answer has no access_token or expires_in", class: "bad_response" } };
  }
  return { ok: true, token, expiresInS: expiresIn };
}

/** gettoken errors are about the credentials themselves: no token refresh can fix them. */
function gettokenFailure(errcode: number, errmsg: string, corpId: string): HttpFailure {
  switch (errcode) {
    case 40001:
      return { kind: "permanent", error: `invalid corp secret for corp ${corpId} (gettoken errcode 40001)`, errcode };
    case 40013:
      return { kind: "permanent", error: `invalid corp id ${corpId} (gettoken errcode 40013)`, errcode };
  }
  const error = `gettoken for corp ${corpId}: ${describeErrcode(errcode, errmsg)}`;
  const result = classifyErrcode(errcode, errmsg);
  // Busy and frequency codes pass with time; everything else needs the operator.
  if (result.kind === "retry") return { ...result, error };
  return { kind: "permanent", error, errcode };
}
