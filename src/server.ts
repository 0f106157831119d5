// Builds the express app over a Service: parsing, auth and answers only; the pipeline
// lives in the Service and Relay.
import { createHash } from "node:crypto";
import express, { type RequestHandler } from "express";
import type { Config } from "./config/schema.js";
import { requireAuth } from "./http/auth.js";
import { jsonBody } from "./http/body.js";
import { addressList } from "./http/client-address.js";
import { BodyBudget, rawBody } from "./http/raw-body.js";
import { errorHandler, HttpError, sendError } from "./http/errors.js";
import { inboundRateLimit } from "./http/rate-limit.js";
import { requireGithubSignature, requireGrafanaSignature } from "./http/require-signature.js";
import { wecomCallbackRouter } from "./http/wecom-callback.js";
import { logger, redactor } from "./log.js";
import { ENDPOINTS } from "./metric-series.js";
import type { Service } from "./service.js";
import { alertmanagerEvents } from "./sources/alertmanager.js";
import { apiMessage } from "./sources/api.js";
import { githubEvents } from "./sources/github.js";
import { grafanaEvents } from "./sources/grafana.js";
import type { Parsed } from "./sources/validate.js";
import type { Event } from "./types.js";

type Endpoint = Exclude<keyof Config["auth"], "github">;

const KNOWN_WEBHOOKS = new Set(["alertmanager", "grafana", "github"]);

/** GitHub's delivery ids are UUIDs; anything longer is not from GitHub and is not stored. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,128}$/;
const MAX_IDEMPOTENCY_KEY = 256;

/** HA peers send the same notification within seconds of each other; a repeat after this is Alertmanager's own. */
const ALERTMANAGER_REPEAT_WINDOW_MS = 60_000;

/**
 * The endpoint a path belongs to, for the rejection metric: a fixed set, so no client can
 * create label values (and series) by inventing paths.
 */
function endpointOf(path: string): (typeof ENDPOINTS)[number] {
  const [, first, second] = path.split("/");
  if (first === "webhook") return ENDPOINTS.find((endpoint) => endpoint === second && KNOWN_WEBHOOKS.has(second)) ?? "other";
  if (first === "api") return "api";
  if (first === "wecom") return "callback";
  return "other";
}

/** The parsed value, or a 400 naming the offending field. */
function valueOrBadRequest<T>(parsed: Parsed<T>): T {
  if (!parsed.ok) throw new HttpError(400, parsed.error, { detail: { field: parsed.field }, reason: "bad_payload" });
  return parsed.value;
}

export function createApp(service: Service): express.Express {
  const app = express();
  app.disable("x-powered-by");
  // req.ip: the TCP peer, or through X-Forwarded-For when the peer is a trusted proxy.
  let trusted = { cidrs: undefined as readonly string[] | undefined, check: addressList([]) };
  app.set("trust proxy", (address: string) => {
    const cidrs = service.relay.config.server.trust_proxy;
    if (trusted.cidrs !== cidrs) trusted = { cidrs, check: addressList(cidrs ?? []) };
    return trusted.check(address);
  });

  // Every body read at once draws on one budget, before anyone is authenticated.
  const budget = new BodyBudget(() => service.relay.config.server.max_buffered);
  const readBody = rawBody(() => service.relay.config.server.max_body, budget);
  const auth = (endpoint: Endpoint) => requireAuth(() => service.relay.config.auth[endpoint]);
  const notReady: RequestHandler = (_req, _res, next) => {
    if (!service.ready) throw new HttpError(503, "not ready", { detail: { reason: service.notReadyReason }, reason: "not_ready" });
    next();
  };

  // Webhooks and the API share one per-address budget; probes and metrics are exempt.
  const limited = inboundRateLimit(() => {
    const limit = service.relay.config.server.rate_limit;
    return limit && { perIp: limit.per_ip, perMs: limit.per };
  });
  app.use(["/webhook", "/api"], limited);

  /** Turns the parsed body into events and answers once they are durably queued. */
  const queueEvents =
    (toEvents: (body: unknown) => Parsed<Event[]>): RequestHandler =>
    async (req, res) => {
      const accepted = await service.accept(valueOrBadRequest(toEvents(req.body)));
      res.status(200).json({ status: "queued", id: accepted.requestId, messages: accepted.messages });
    };

  // The same notification (groupKey, status, alerts) from an HA peer or a retry, on any
  // replica, is queued once; Alertmanager's later repeats (repeat_interval) are new.
  app.post("/webhook/alertmanager", notReady, auth("alertmanager"), readBody, jsonBody(), async (req, res) => {
    const events = valueOrBadRequest(alertmanagerEvents(req.body));
    const key = events[0] && `alertmanager:${events[0].id}`;
    const accepted = await service.accept(events, { ...(key && { idempotencyKey: key, idempotencyWindowMs: ALERTMANAGER_REPEAT_WINDOW_MS }) });
    res.status(200).json({ status: accepted.duplicate ? "duplicate" : "queued", id: accepted.requestId, messages: accepted.messages, ...(accepted.duplicate && { duplicate: true }) });
  });

  const grafanaSignature = requireGrafanaSignature(() => service.relay.config.auth.grafana?.hmac);
  app.post("/webhook/grafana", notReady, auth("grafana"), readBody, grafanaSignature, jsonBody(), queueEvents(grafanaEvents));

  const githubSignature = requireGithubSignature(() => service.relay.config.auth.github?.secret);
  app.post("/webhook/github", notReady, readBody, githubSignature, jsonBody({ form: true }), async (req, res) => {
    const delivery = req.get("X-GitHub-Delivery");
    const signed = service.relay.config.auth.github?.secret !== undefined;
    if (delivery !== undefined && !DELIVERY_ID.test(delivery)) {
      throw new HttpError(400, "X-GitHub-Delivery: expected an id of at most 128 letters, digits and dashes", { detail: { field: "X-GitHub-Delivery" }, reason: "bad_payload" });
    }
    if (signed && delivery === undefined) {
      throw new HttpError(400, "X-GitHub-Delivery: header is missing (GitHub sends it with every delivery)", { detail: { field: "X-GitHub-Delivery" }, reason: "bad_payload" });
    }
    const events = valueOrBadRequest(
      githubEvents({ event: req.get("X-GitHub-Event") ?? "", body: req.body, ...(delivery !== undefined && { delivery }) }),
    );
    if (events.length === 0) {
      res.status(200).json({ status: "ok", messages: 0 }); // ping and the like: acknowledged, nothing to send
      return;
    }
    // A redelivery carries the same X-GitHub-Delivery: queue it once. Signed, the body's
    // signature is the key: a captured body replayed under new (unsigned) delivery ids or
    // event names is the same body, and is queued once too.
    const signature = req.get("X-Hub-Signature-256");
    const key = signed && signature ? `github:sig:${createHash("sha256").update(signature).digest("hex")}` : delivery && `github:${delivery}`;
    const accepted = await service.accept(events, { ...(key && { idempotencyKey: key }) });
    res
      .status(accepted.duplicate ? 200 : 202)
      .json({ status: accepted.duplicate ? "duplicate" : "queued", id: accepted.requestId, messages: accepted.messages });
  });

  app.post("/api/v1/messages", notReady, auth("api"), readBody, jsonBody(), async (req, res) => {
    const { event, receiver, template, format, mention } = valueOrBadRequest(apiMessage(req.body));
    if (!service.relay.receiver(receiver)) {
      throw new HttpError(404, `unknown receiver "${receiver}"`, { detail: { receivers: service.relay.config.receivers.map((r) => r.name) }, reason: "unknown_receiver" });
    }
    if (!service.relay.templates.has(template, format)) {
      throw new HttpError(404, `unknown template "${template}" for format ${format}`, { reason: "unknown_template" });
    }
    const key = req.get("Idempotency-Key");
    if (key !== undefined && key.length > MAX_IDEMPOTENCY_KEY) {
      throw new HttpError(400, `Idempotency-Key: at most ${MAX_IDEMPOTENCY_KEY} characters`, { detail: { field: "Idempotency-Key" }, reason: "bad_payload" });
    }
    const accepted = await service.accept([event], {
      match: { receiver, template, format, mention, route: "api" },
      ...(key !== undefined && { idempotencyKey: `api:${key}` }),
    });
    res.status(202).json({ id: accepted.requestId, ...(accepted.duplicate && { duplicate: true }) });
  });

  app.get("/api/v1/messages/:id", notReady, auth("api"), async (req, res) => {
    const status = await service.store.requestStatus(String(req.params.id));
    if (!status) throw new HttpError(404, "unknown message id", { reason: "unknown_message" });
    const errors = status.deliveries.flatMap((d) => (d.lastError ? [d.lastError] : []));
    res.json({
      id: status.id,
      state: status.state,
      created_at: new Date(status.createdAt).toISOString(),
      ...(errors.length > 0 && { last_error: redactor.redact(errors[errors.length - 1]!) }),
      deliveries: status.deliveries.map((d) => ({
        id: d.id,
        target: d.message.target,
        state: d.state,
        attempts: d.attempts,
        ...(d.lastError !== undefined && { last_error: redactor.redact(d.lastError) }),
        ...(d.sentAt !== undefined && { sent_at: new Date(d.sentAt).toISOString() }),
      })),
    });
  });

  app.get("/api/v1/dead-letters", notReady, auth("api"), async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
    res.json({
      dead_letters: (await service.store.listDead(limit)).map((d) => ({
        id: d.id,
        request_id: d.requestId,
        target: d.message.target,
        receiver: d.message.receiver,
        summary: d.message.summary,
        attempts: d.attempts,
        last_error: d.lastError === undefined ? undefined : redactor.redact(d.lastError),
        created_at: new Date(d.createdAt).toISOString(),
      })),
    });
  });

  app.post("/api/v1/messages/:id/retry", notReady, auth("api"), async (req, res) => {
    const status = await service.store.requestStatus(String(req.params.id));
    if (!status) throw new HttpError(404, "unknown message id", { reason: "unknown_message" });
    const wanted = status.deliveries.filter((d) => d.state === "dead" && (d.id === req.params.id || status.id === req.params.id));
    if (wanted.length === 0) throw new HttpError(409, "nothing to retry: the message is not dead-lettered", { detail: { state: status.state }, reason: "not_dead" });
    const requeued = await service.retry(wanted.map((d) => d.id));
    res.json({ id: status.id, requeued });
  });

  app.use(
    wecomCallbackRouter((target) => service.relay.callbackCredentials(target), {
      budget,
      onEvent: (target, xml) => {
        service.metrics.callbackEvents.inc({ target });
        logger.info("WeCom callback event", { target, type: /<MsgType><!\[CDATA\[(\w+)\]\]><\/MsgType>|<MsgType>(\w+)<\/MsgType>/.exec(xml)?.slice(1).find(Boolean) });
      },
    }),
  );

  app.get("/-/healthy", (_req, res) => {
    res.json({ status: "healthy" });
  });
  app.get("/-/ready", (_req, res) => {
    if (service.ready) res.json({ status: "ready" });
    else sendError(res, new HttpError(503, "not ready", { detail: { reason: service.notReadyReason } }));
  });
  app.post("/-/reload", auth("api"), (_req, res) => {
    const result = service.reload();
    if (result.ok) res.json({ status: "reloaded" });
    else sendError(res, new HttpError(500, "config reload failed; the previous config stays active", { detail: result.errors }));
  });
  app.get("/metrics", async (_req, res) => {
    res.type("text/plain; version=0.0.4").send(await service.scrape());
  });

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`, { reason: "not_found" })));
  app.use(
    errorHandler((req, err) => {
      service.metrics.requestsRejected.inc({ source: endpointOf(req.path), reason: err.reason });
      if (err.status < 500) logger.info("request rejected", { path: req.path, status: err.status, error: err.message });
    }),
  );
  return app;
}
