// Every request to the webhook, API, callback and action endpoints counted by source and
// status code, and timed: what Alertmanager, Grafana and GitHub were answered, and how
// fast. Probes and /metrics are left out (a scrape every second would drown the rest).
import type { RequestHandler } from "express";
import type { Metrics } from "../metrics.js";

/** The status codes the relay answers, as the `code` label; any other is its class ("3xx"). */
export const HTTP_CODES = ["200", "202", "400", "401", "403", "404", "405", "409", "410", "413", "415", "429", "500", "502", "503"] as const;
const KNOWN_CODES: ReadonlySet<string> = new Set(HTTP_CODES);

export function codeLabel(status: number): string {
  const code = String(status);
  return KNOWN_CODES.has(code) ? code : `${Math.floor(status / 100)}xx`;
}

function measured(path: string): boolean {
  return !path.startsWith("/-/") && path !== "/metrics";
}

export function requestMetrics(metrics: Metrics, sourceOf: (path: string) => string): RequestHandler {
  return (req, res, next) => {
    if (!measured(req.path)) return next();
    const source = sourceOf(req.path);
    const started = process.hrtime.bigint();
    // "finish": the answer was handed to the socket. A client that left before it is not
    // counted here; requests_rejected_total{reason="aborted"} has it.
    res.once("finish", () => {
      metrics.httpRequests.inc({ source, code: codeLabel(res.statusCode) });
      metrics.httpDuration.observe({ source }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
