// The trigger and status API under /api/v1: send a message, read a message's status, list
// dead letters and retry them. Errors shown here pass the redactor again.
import type { Express } from "express";
import type { Actions } from "../../actions/actions.js";
import type { Store } from "../../outbox/contract.js";
import { redactor } from "../../redact.js";
import type { AcceptOptions, Accepted } from "../../service.js";
import { apiMessage } from "../../sources/api.js";
import type { Event, Format } from "../../types.js";
import { jsonBody } from "../body.js";
import { HttpError } from "../errors.js";
import { requestSpan } from "../receive-span.js";
import { valueOrBadRequest, type RouteKit } from "./kit.js";

export interface ApiDeps {
  accept(events: readonly Event[], options?: AcceptOptions): Promise<Accepted>;
  retry(deliveryIds: readonly string[]): Promise<number>;
  store: Pick<Store, "requestStatus" | "listDead">;
  receivers(): string[];
  hasTemplate(name: string, format: Format): boolean;
  actions: Pick<Actions, "list">;
}

const MAX_IDEMPOTENCY_KEY = 256;

export function apiRoutes(app: Express, kit: RouteKit, deps: ApiDeps): void {
  const { notReady, auth, readBody } = kit;

  app.post("/api/v1/messages", notReady, auth("api"), readBody, jsonBody(), async (req, res) => {
    const { event, receiver, template, format, mention } = valueOrBadRequest(apiMessage(req.body));
    const receivers = deps.receivers();
    if (!receivers.includes(receiver)) {
      throw new HttpError(404, `unknown receiver "${receiver}"`, { detail: { receivers }, reason: "unknown_receiver" });
    }
    if (!deps.hasTemplate(template, format)) {
      throw new HttpError(404, `unknown template "${template}" for format ${format}`, { reason: "unknown_template" });
    }
    const key = req.get("Idempotency-Key");
    if (key !== undefined && key.length > MAX_IDEMPOTENCY_KEY) {
      throw new HttpError(400, `Idempotency-Key: at most ${MAX_IDEMPOTENCY_KEY} characters`, { detail: { field: "Idempotency-Key" }, reason: "bad_payload" });
    }
    const accepted = await deps.accept([event], {
      trace: requestSpan(res),
      match: { receiver, template, format, mention, route: "api" },
      ...(key !== undefined && { idempotencyKey: `api:${key}` }),
    });
    res.status(202).json({ id: accepted.requestId, ...(accepted.duplicate && { duplicate: true }) });
  });

  app.get("/api/v1/messages/:id", notReady, auth("api"), async (req, res) => {
    const status = await deps.store.requestStatus(String(req.params.id));
    if (!status) throw new HttpError(404, "unknown message id", { reason: "unknown_message" });
    const errors = status.deliveries.flatMap((d) => (d.lastError ? [d.lastError] : []));
    const traceId = status.deliveries.find((d) => d.message.trace)?.message.trace?.traceId;
    res.json({
      id: status.id,
      state: status.state,
      ...(traceId !== undefined && { trace_id: traceId }),
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
      dead_letters: (await deps.store.listDead(limit)).map((d) => ({
        id: d.id,
        request_id: d.requestId,
        ...(d.message.trace && { trace_id: d.message.trace.traceId }),
        target: d.message.target,
        receiver: d.message.receiver,
        summary: d.message.summary,
        attempts: d.attempts,
        last_error: d.lastError === undefined ? undefined : redactor.redact(d.lastError),
        created_at: new Date(d.createdAt).toISOString(),
      })),
    });
  });

  /** Actions taken on alert groups from WeCom (newest first), optionally of one group. */
  app.get("/api/v1/actions", notReady, auth("api"), async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
    const group = typeof req.query.group === "string" && req.query.group !== "" ? req.query.group : undefined;
    res.json({
      actions: (await deps.actions.list(limit, group)).map((record) => ({
        id: record.id,
        group: record.group,
        action: record.action,
        via: record.via,
        by: record.by,
        at: new Date(record.at).toISOString(),
        result: record.result,
        ...(record.silenceId !== undefined && { silence_id: record.silenceId }),
        ...(record.until !== undefined && { until: new Date(record.until).toISOString() }),
        ...(record.detail !== undefined && { detail: redactor.redact(record.detail) }),
      })),
    });
  });

  app.post("/api/v1/messages/:id/retry", notReady, auth("api"), async (req, res) => {
    const status = await deps.store.requestStatus(String(req.params.id));
    if (!status) throw new HttpError(404, "unknown message id", { reason: "unknown_message" });
    const wanted = status.deliveries.filter((d) => d.state === "dead" && (d.id === req.params.id || status.id === req.params.id));
    if (wanted.length === 0) throw new HttpError(409, "nothing to retry: the message is not dead-lettered", { detail: { state: status.state }, reason: "not_dead" });
    const requeued = await deps.retry(wanted.map((d) => d.id));
    res.json({ id: status.id, requeued });
  });
}
