// Every Prometheus metric the relay exports, defined once. Labels carry names from the
// config (sources, receivers, targets) and WeCom error codes, never secret values.
import client from "prom-client";

const PREFIX = "wecom_relay_";

export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: PREFIX });

  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Counter<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Gauge<L>({ name: PREFIX + name, help, labelNames, registers: [registry] });

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
    eventsRouted: counter("events_routed_total", "Route matches, by receiver.", ["receiver"]),
    renderFallbacks: counter(
      "render_fallbacks_total",
      "Messages rendered with the plain fallback because the template failed at send time.",
      ["template"],
    ),
    messagesQueued: counter("messages_queued_total", "Messages written to the outbox, by target.", ["target"]),
    messagesSent: counter("messages_sent_total", "Send attempts to WeCom, by target and result (ok, retry, permanent).", [
      "target",
      "result",
    ]),
    wecomErrors: counter("wecom_errors_total", "Non-zero errcodes answered by WeCom, by errcode.", ["errcode"]),
    deliveryLatency: new client.Histogram<"target">({
      name: PREFIX + "delivery_latency_seconds",
      help: "Time from outbox write to WeCom acceptance, by target.",
      labelNames: ["target"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600],
      registers: [registry],
    }),
    outboxDepth: gauge("outbox_depth", "Messages queued in the outbox, by target.", ["target"]),
    outboxWriteFailures: counter(
      "outbox_write_failures_total",
      "Outbox writes that failed (full disk, database unreachable): webhooks answered 5xx meanwhile.",
      [],
    ),
    throttled: counter("throttled_total", "Sends that had to wait for a rate limit, by limiter (target or receiver).", [
      "limiter",
    ]),
    coalesced: counter("coalesced_total", "Queued messages merged into digests during a backlog, by target.", [
      "target",
    ]),
    retries: counter("retries_total", "Deliveries scheduled for another attempt, by target.", ["target"]),
    deadLetters: counter("dead_letters_total", "Deliveries given up, by target and reason.", ["target", "reason"]),
    tokenRefreshes: counter("token_refreshes_total", "App access_token fetches, by target and result.", [
      "target",
      "result",
    ]),
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
