// Every label set the relay can report, created at 0 when a config loads: a counter that
// first appears at its first increment hides that increment from rate() and increase(),
// so dashboards would show "no data" (or nothing) exactly when something happened.
import { DEAD_LETTER_REASONS } from "./delivery/retry.js";
import { KNOWN_ERRCODES } from "./channels/wecom/errcodes.js";
import { REJECTION_REASONS } from "./http/errors.js";
import { HTTP_CODES } from "./http/request-metrics.js";
import type { Metrics } from "./metrics.js";
import type { Config } from "./config/schema.js";
import { ACTION_NAMES, ACTION_RESULTS } from "./outbox/action-log.js";
import { FAILURE_CLASSES } from "./types.js";

/** The endpoints the rejection and request metrics name (see server.ts): a fixed set. */
export const ENDPOINTS = ["alertmanager", "grafana", "github", "api", "callback", "actions", "ui", "other"] as const;
const SOURCES = ["alertmanager", "grafana", "github", "api"] as const;
const STATUSES = ["firing", "resolved", "none"] as const;
const SEND_RESULTS = ["ok", "retry", "permanent"] as const;
const ERRCODES = [...KNOWN_ERRCODES.map(String), "other"];

/**
 * `templates`: every template the config can render with (routes name them, API messages
 * may name any of them), so the first fallback of any of them shows.
 */
export function createSeries(metrics: Metrics, config: Config, templates: readonly string[]): void {
  const targets = Object.keys(config.targets);
  const appTargets = Object.entries(config.targets).filter(([, target]) => target.type === "app");
  for (const target of targets) {
    for (const result of SEND_RESULTS) metrics.sendAttempts.inc({ target, result }, 0);
    for (const failureClass of FAILURE_CLASSES) metrics.sendFailures.inc({ target, class: failureClass }, 0);
    for (const errcode of ERRCODES) metrics.wecomErrors.inc({ target, errcode }, 0);
    for (const reason of DEAD_LETTER_REASONS) metrics.deadLetters.inc({ target, reason }, 0);
    metrics.messagesQueued.inc({ target }, 0);
    metrics.messagesDelivered.inc({ target }, 0);
    metrics.messagesRetried.inc({ target }, 0);
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
  for (const template of templates) metrics.renderFallbacks.inc({ template }, 0);
  for (const source of SOURCES) for (const status of STATUSES) metrics.eventsReceived.inc({ source, status }, 0);
  for (const source of ENDPOINTS) {
    for (const reason of REJECTION_REASONS) metrics.requestsRejected.inc({ source, reason }, 0);
    for (const code of HTTP_CODES) metrics.httpRequests.inc({ source, code }, 0);
    metrics.httpDuration.zero({ source });
  }
  for (const result of ["success", "failure"]) metrics.configReloads.inc({ result }, 0);
  metrics.outboxWriteFailures.inc(0);
  if (config.actions || config.alertmanager || config.grafana) {
    for (const action of ACTION_NAMES) for (const result of ACTION_RESULTS) metrics.actions.inc({ action, result }, 0);
  }
}
