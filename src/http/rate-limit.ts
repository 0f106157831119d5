// Inbound rate limit per client address: a fixed window per address, answered with 429
// and Retry-After. Bounded memory: windows are forgotten once they end.
import type { RequestHandler } from "express";
import { clientAddress } from "./client-address.js";
import { HttpError } from "./errors.js";

export interface InboundRateLimit {
  perIp: number;
  perMs: number;
}

/** Addresses tracked at once; past this the oldest windows are dropped first. */
const MAX_TRACKED = 100_000;

export function inboundRateLimit(getLimit: () => InboundRateLimit | undefined, now: () => number = Date.now): RequestHandler {
  const windows = new Map<string, { start: number; count: number }>();
  return (req, _res, next) => {
    const limit = getLimit();
    if (!limit) return next();
    const at = now();
    // The client, seen through trusted proxies (server.trust_proxy); else the TCP peer.
    const address = clientAddress(req) ?? "unknown";
    let window = windows.get(address);
    if (!window || at - window.start >= limit.perMs) {
      windows.delete(address); // re-insert so Map order stays oldest-first
      window = { start: at, count: 0 };
      windows.set(address, window);
      if (windows.size > MAX_TRACKED) windows.delete(windows.keys().next().value!);
    }
    window.count += 1;
    if (window.count > limit.perIp) {
      const retryAfter = Math.max(1, Math.ceil((window.start + limit.perMs - at) / 1000));
      throw new HttpError(429, "too many requests from this address", { detail: { limit: limit.perIp, per_ms: limit.perMs }, reason: "rate_limited", headers: {
        "Retry-After": String(retryAfter),
      } });
    }
    next();
  };
}
