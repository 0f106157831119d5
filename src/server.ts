// Builds the express app over a Service: each route file gets the narrow part of the
// service it uses; parsing, auth and answers live there, the pipeline in Service and Relay.
import express from "express";
import { requireAddress } from "./http/access-list.js";
import { matcherFor } from "./http/client-address.js";
import { errorHandler, HttpError } from "./http/errors.js";
import { inboundRateLimit } from "./http/rate-limit.js";
import { receiveSpan, requestTraceFields } from "./http/receive-span.js";
import { requestMetrics } from "./http/request-metrics.js";
import type { Actions } from "./actions/actions.js";
import { callbackMessageType, parseCardClick } from "./actions/card-click.js";
import { actionPageRoutes } from "./http/routes/actions.js";
import { apiRoutes } from "./http/routes/api.js";
import { consoleRoutes } from "./http/routes/console.js";
import { createRouteKit } from "./http/routes/kit.js";
import { probeRoutes } from "./http/routes/probes.js";
import { webhookRoutes } from "./http/routes/webhooks.js";
import { wecomCallbackRouter } from "./http/wecom-callback.js";
import { logger } from "./log.js";
import { ENDPOINTS } from "./metric-series.js";
import { examplesDir } from "./paths.js";
import type { Service } from "./service.js";

const KNOWN_WEBHOOKS = new Set(["alertmanager", "grafana", "github"]);

/** The requests that bring notifications: each gets a receive span and a trace id. */
const NOTIFICATION_ROUTES = [
  ["/webhook/alertmanager", "alertmanager"],
  ["/webhook/grafana", "grafana"],
  ["/webhook/github", "github"],
  ["/api/v1/messages", "api"],
] as const;

/**
 * The endpoint a path belongs to, for the rejection metric: a fixed set, so no client can
 * create label values (and series) by inventing paths.
 */
function endpointOf(path: string): (typeof ENDPOINTS)[number] {
  const [, first, second] = path.split("/");
  if (first === "webhook") return ENDPOINTS.find((endpoint) => endpoint === second && KNOWN_WEBHOOKS.has(second)) ?? "other";
  if (first === "api") return "api";
  if (first === "wecom") return "callback";
  if (first === "actions") return "actions";
  if (first === "ui") return "ui";
  return "other";
}

export function createApp(service: Service, actions: Actions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  const config = () => service.relay.config;
  app.use(requestMetrics(service.metrics, endpointOf));

  // req.ip: the TCP peer, or through X-Forwarded-For when the peer is a trusted proxy.
  const noProxies: string[] = [];
  app.set("trust proxy", (address: string) => matcherFor(config().server.trust_proxy ?? noProxies)(address));
  // server.allow / server.deny: before anything else, the body unread.
  app.use(requireAddress(() => config().server));
  for (const [route, source] of NOTIFICATION_ROUTES) app.post(route, receiveSpan(() => service.tracer, route, source));

  const kit = createRouteKit({
    server: () => config().server,
    auth: () => config().auth,
    ready: () => service.ready,
    notReadyReason: () => service.notReadyReason,
  });

  // Webhooks and the API share one per-address budget; probes and metrics are exempt.
  const limited = inboundRateLimit(() => {
    const limit = config().server.rate_limit;
    return limit && { perIp: limit.per_ip, perMs: limit.per };
  });
  app.use(["/webhook", "/api"], limited);

  const accept: Service["accept"] = (events, options) => service.accept(events, options);
  webhookRoutes(app, kit, { accept, auth: () => config().auth });
  apiRoutes(app, kit, {
    accept,
    retry: (ids) => service.retry(ids),
    store: service.store,
    receivers: () => config().receivers.map((receiver) => receiver.name),
    hasTemplate: (name, format) => service.relay.templates.has(name, format),
    actions,
  });
  consoleRoutes(app, kit, {
    config,
    relay: () => service.relay,
    store: service.store,
    retry: (ids) => service.retry(ids),
    actions,
    examplesDir: examplesDir(),
    now: () => Date.now(),
    rejected: (reason) => service.metrics.requestsRejected.inc({ source: "ui", reason }),
    loginLimit: limited,
  });
  actionPageRoutes(app, kit, {
    actions,
    config,
    now: () => Date.now(),
    refused: (reason) => service.metrics.requestsRejected.inc({ source: "actions", reason: reason === "expired" ? "stale_signature" : "bad_signature" }),
  });
  app.use(
    wecomCallbackRouter((target) => service.relay.callbackCredentials(target), {
      budget: kit.budget,
      onEvent: (target, xml) => {
        service.metrics.callbackEvents.inc({ target });
        logger.info("WeCom callback event", { target, type: callbackMessageType(xml) });
        const click = parseCardClick(xml);
        // Answered at once (WeCom waits 5 s, then retries); the click is acted on after.
        if (click) actions.click(target, click).catch((err: unknown) => logger.error("card click failed", { target, error: err }));
      },
    }),
  );
  probeRoutes(app, kit, {
    ready: () => service.ready,
    notReadyReason: () => service.notReadyReason,
    reload: () => service.reload(),
    scrape: () => service.scrape(),
  });

  app.use((req, _res, next) => next(new HttpError(404, `no route for ${req.method} ${req.path}`, { reason: "not_found" })));
  app.use(
    errorHandler((req, err, res) => {
      service.metrics.requestsRejected.inc({ source: endpointOf(req.path), reason: err.reason });
      if (err.status < 500) logger.info("request rejected", { path: req.path, status: err.status, error: err.message, ...requestTraceFields(res) });
    }),
  );
  return app;
}
