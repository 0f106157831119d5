// POST /webhook/alertmanager, /webhook/grafana, /webhook/github: each body becomes events,
// answered once they are durably queued.
import { createHash } from "node:crypto";
import type { Express, RequestHandler } from "express";
import type { Config } from "../../config/schema.js";
import type { AcceptOptions, Accepted } from "../../service.js";
import { sourceAdapters, type SourceAdapter } from "../../sources/index.js";
import type { Event } from "../../types.js";
import { jsonBody } from "../body.js";
import { HttpError } from "../errors.js";
import { requestSpan } from "../receive-span.js";
import { requireGithubSignature, requireGrafanaSignature } from "../require-signature.js";
import { valueOrBadRequest, type RouteKit } from "./kit.js";

export interface WebhookDeps {
  accept(events: readonly Event[], options?: AcceptOptions): Promise<Accepted>;
  auth(): Config["auth"];
}

/** GitHub's delivery ids are UUIDs; anything longer is not from GitHub and is not stored. */
const DELIVERY_ID = /^[A-Za-z0-9-]{1,128}$/;

/** HA peers send the same notification within seconds of each other; a repeat after this is Alertmanager's own. */
const ALERTMANAGER_REPEAT_WINDOW_MS = 60_000;

export function webhookRoutes(app: Express, kit: RouteKit, deps: WebhookDeps): void {
  const { notReady, auth, readBody } = kit;

  /** Turns the parsed body into events and answers once they are durably queued. */
  const queueEvents =
    (toEvents: SourceAdapter): RequestHandler =>
    async (req, res) => {
      const accepted = await deps.accept(valueOrBadRequest(toEvents(req.body, {})), { trace: requestSpan(res) });
      res.status(200).json({ status: "queued", id: accepted.requestId, messages: accepted.messages });
    };

  // The same notification (groupKey, status, alerts) from an HA peer or a retry, on any
  // replica, is queued once; Alertmanager's later repeats (repeat_interval) are new.
  app.post("/webhook/alertmanager", notReady, auth("alertmanager"), readBody, jsonBody(), async (req, res) => {
    const events = valueOrBadRequest(sourceAdapters.alertmanager(req.body, {}));
    const key = events[0] && `alertmanager:${events[0].id}`;
    const accepted = await deps.accept(events, { trace: requestSpan(res), ...(key && { idempotencyKey: key, idempotencyWindowMs: ALERTMANAGER_REPEAT_WINDOW_MS }) });
    res.status(200).json({ status: accepted.duplicate ? "duplicate" : "queued", id: accepted.requestId, messages: accepted.messages, ...(accepted.duplicate && { duplicate: true }) });
  });

  const grafanaSignature = requireGrafanaSignature(() => deps.auth().grafana?.hmac);
  app.post("/webhook/grafana", notReady, auth("grafana"), readBody, grafanaSignature, jsonBody(), queueEvents(sourceAdapters.grafana));

  const githubSignature = requireGithubSignature(() => deps.auth().github?.secret);
  app.post("/webhook/github", notReady, auth("github"), readBody, githubSignature, jsonBody({ form: true }), async (req, res) => {
    const delivery = req.get("X-GitHub-Delivery");
    const signed = deps.auth().github?.secret !== undefined;
    if (delivery !== undefined && !DELIVERY_ID.test(delivery)) {
      throw new HttpError(400, "X-GitHub-Delivery: expected an id of at most 128 letters, digits and dashes", { detail: { field: "X-GitHub-Delivery" }, reason: "bad_payload" });
    }
    if (signed && delivery === undefined) {
      throw new HttpError(400, "X-GitHub-Delivery: header is missing (GitHub sends it with every delivery)", { detail: { field: "X-GitHub-Delivery" }, reason: "bad_payload" });
    }
    const events = valueOrBadRequest(
      sourceAdapters.github(req.body, { event: req.get("X-GitHub-Event") ?? "", ...(delivery !== undefined && { delivery }) }),
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
    const accepted = await deps.accept(events, { trace: requestSpan(res), ...(key && { idempotencyKey: key }) });
    res
      .status(accepted.duplicate ? 200 : 202)
      .json({ status: accepted.duplicate ? "duplicate" : "queued", id: accepted.requestId, messages: accepted.messages });
  });
}
