// Every Prometheus metric the relay exports, defined once. Labels carry names from the
// config (sources, receivers, targets) and WeCom error codes, never secret values.
import client from "prom-client";
import { packageVersion } from "./paths.js";

const PREFIX = "wecom_relay_";

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Counter<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Gauge<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });

  const buildInfo = gauge("build_info", "Always 1: the relay's version and the Node.js it runs on.", ["version", "nodejs_version"]);
  buildInfo.set({ version: packageVersion(), nodejs_version: process.version }, 1);

  return {
    registry,
    eventsReceived: counter("events_received_total", "Events accepted from webhooks, by source and status.", [
      "source",
      "status",
    ]),
    requestsRejected: counter(
      "requests_rejected_total",
      "Inbound requests refused, by source (endpoint) and reason (bad_json, too_large, unauthorized, ...).",
      ["source", "reason"],
    ),
    httpRequests: counter(
      "http_requests_total",
      "Requests answered on the webhook, API, callback and action endpoints, by source (endpoint) and HTTP status code.",
      ["source", "code"],
    ),
    httpDuration: new client.Histogram<"source">({
      name: PREFIX + "http_request_duration_seconds",
      help: "Time to answer a request on the webhook, API, callback and action endpoints (a webhook: until it is durably queued), by source.",
      labelNames: ["source"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    eventsRouted: counter("events_routed_total", "Route matches, by receiver.", ["receiver"]),
    renderFallbacks: counter(
      "render_fallbacks_total",
      "Messages rendered with the plain fallback because the template failed at send time.",
      ["template"],
    ),
    messagesQueued: counter("messages_queued_total", "Messages written to the outbox, by target.", ["target"]),
    messagesDelivered: counter(
      "messages_delivered_total",
      "Messages WeCom accepted, alone or in a digest, by target: each message once.",
      ["target"],
    ),
    deadLetters: counter("dead_letters_total", "Messages given up, by target and reason: each message once.", ["target", "reason"]),
    messagesRetried: counter(
      "messages_retried_total",
      "Messages whose first attempt failed and that were kept for another, by target: each message once.",
      ["target"],
    ),
    sendAttempts: counter(
      "send_attempts_total",
      "Requests to WeCom (one per message or digest sent), by target and result (ok, retry, permanent).",
      ["target", "result"],
    ),
    sendFailures: counter(
      "send_failures_total",
      "Failed requests to WeCom, by target and class (errcode, http_4xx, http_5xx, timeout, network, bad_response, token, not_sent, internal).",
      ["target", "class"],
    ),
    wecomErrors: counter(
      "wecom_errors_total",
      "Non-zero errcodes answered by WeCom (sends and gettoken), by target and errcode.",
      ["target", "errcode"],
    ),
    deliveryLatency: new client.Histogram<"target">({
      name: PREFIX + "delivery_latency_seconds",
      help: "Time from outbox write to WeCom acceptance, by target.",
      labelNames: ["target"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
      registers: [registry],
    }),
    outboxDepth: gauge("outbox_depth", "Messages queued in the outbox, by target.", ["target"]),
    outboxWaitingRetry: gauge(
      "outbox_waiting_retry",
      "Queued messages waiting for their next attempt after a failure, by target (the rest of outbox_depth is due now).",
      ["target"],
    ),
    outboxOldestAge: gauge(
      "outbox_oldest_age_seconds",
      "Age of the oldest queued message, by target (0 when none is queued): how late that target's alerts are now.",
      ["target"],
    ),
    outboxSize: gauge("outbox_size_bytes", "Disk space the outbox takes (SQLite: the file and its WAL; PostgreSQL: the relay's tables).", []),
    outboxWriteFailures: counter(
      "outbox_write_failures_total",
      "Outbox writes that failed (full disk, database unreachable): webhooks answered 5xx meanwhile.",
      [],
    ),
    throttled: counter("throttled_total", "Sends that had to wait for a rate limit, by limiter (target or receiver).", [
      "limiter",
    ]),
    pausedUntil: gauge(
      "target_paused_until_timestamp_seconds",
      "Until when WeCom's rate limit (45009) pauses the target's robot or app, by target (0: never paused; a past time: not paused now).",
      ["target"],
    ),
    coalesced: counter("coalesced_total", "Messages delivered inside a digest during a backlog, by target: each message once.", [
      "target",
    ]),
    tokenRefreshes: counter("token_refreshes_total", "App access_token fetches, by target and result.", [
      "target",
      "result",
    ]),
    tokenExpiry: gauge(
      "app_token_expiry_timestamp_seconds",
      "When the app target's access_token expires (0: the relay holds none).",
      ["target"],
    ),
    tokenBackoffUntil: gauge(
      "app_token_backoff_until_timestamp_seconds",
      "After failed gettoken calls, no new one is tried before this time, by app target (0: not backing off).",
      ["target"],
    ),
    invalidRecipients: counter(
      "invalid_recipients_total",
      "App messages accepted by WeCom that named unknown users, parties or tags, by target.",
      ["target"],
    ),
    callbackEvents: counter("callback_events_total", "Decrypted WeCom app callback events, by target.", ["target"]),
    actions: counter("actions_total", "Actions on alert groups from WeCom (ack, silence, unsilence, resolve), by result (ok, failed, refused).", ["action", "result"]),
    configReloads: counter("config_reloads_total", "Config reloads, by result (success, failure).", ["result"]),
    configLastReloadSuccess: gauge(
      "config_last_reload_successful",
      "1 if the last config reload succeeded, else 0.",
      [],
    ),
    configLastReloadTime: gauge(
      "config_last_reload_success_timestamp_seconds",
      "Time of the last successful config load.",
      [],
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
