// Every label set the relay can report, created at 0 when a config loads: a counter that
// first appears at its first increment hides that increment from rate() and increase(),
// so dashboards would show "no data" (or nothing) exactly when something happened.
import { DEAD_LETTER_REASONS } from "./delivery/retry.js";
import { KNOWN_ERRCODES } from "./channels/wecom/errcodes.js";
import { REJECTION_REASONS } from "./http/errors.js";
import type { Metrics } from "./metrics.js";
import type { Config } from "./config/schema.js";
import { ACTION_NAMES, ACTION_RESULTS } from "./outbox/action-log.js";

/** The endpoints the rejection metric names (see server.ts): a fixed set. */
export const ENDPOINTS = ["alertmanager", "grafana", "github", "api", "callback", "actions", "ui", "other"] as const;
const SOURCES = ["alertmanager", "grafana", "github", "api"] as const;
const STATUSES = ["firing", "resolved", "none"] as const;
const SEND_RESULTS = ["ok", "retry", "permanent"] as const;

export function createSeries(metrics: Metrics, config: Config): void {
  const targets = Object.keys(config.targets);
  const appTargets = Object.entries(config.targets).filter(([, target]) => target.type === "app");
  for (const target of targets) {
    for (const result of SEND_RESULTS) metrics.messagesSent.inc({ target, result }, 0);
    for (const reason of DEAD_LETTER_REASONS) metrics.deadLetters.inc({ target, reason }, 0);
    metrics.messagesQueued.inc({ target }, 0);
    metrics.retries.inc({ target }, 0);
    metrics.coalesced.inc({ target }, 0);
    metrics.throttled.inc({ limiter: target }, 0);
    metrics.deliveryLatency.zero({ target });
  }
  for (const [target, app] of appTargets) {
    for (const result of ["success", "failure"]) metrics.tokenRefreshes.inc({ target, result }, 0);
    metrics.invalidRecipients.inc({ target }, 0);
    if (app.type === "app" && app.callback) metrics.callbackEvents.inc({ target }, 0);
  }
  for (const receiver of config.receivers) {
    metrics.eventsRouted.inc({ receiver: receiver.name }, 0);
    if (receiver.throttle) metrics.throttled.inc({ limiter: receiver.name }, 0);
  }
  for (const source of SOURCES) for (const status of STATUSES) metrics.eventsReceived.inc({ source, status }, 0);
  for (const source of ENDPOINTS) for (const reason of REJECTION_REASONS) metrics.requestsRejected.inc({ source, reason }, 0);
  for (const code of [...KNOWN_ERRCODES.map(String), "other"]) metrics.wecomErrors.inc({ errcode: code }, 0);
  for (const result of ["success", "failure"]) metrics.configReloads.inc({ result }, 0);
  if (config.actions || config.alertmanager || config.grafana) {
    for (const action of ACTION_NAMES) for (const result of ACTION_RESULTS) metrics.actions.inc({ action, result }, 0);
  }
}
