// The receive span of a request that brings a notification: started when the request
// arrives (continuing the sender's `traceparent`), ended when the answer is sent, and kept
// with the response so every later step and log line of the request names its trace.
import type { RequestHandler, Response } from "express";
import { parseTraceparent, traceFields } from "../tracing/trace-context.js";
import type { Span, Tracer } from "../tracing/tracer.js";
import { clientAddress } from "./client-address.js";

const spans = new WeakMap<Response, Span>();

/** For `POST route`: the span's name is the route as written (never the path a client sent). */
export function receiveSpan(tracer: () => Tracer, route: string, source: string): RequestHandler {
  return (req, res, next) => {
    const span = tracer().receive(`POST ${route}`, parseTraceparent(req.headers.traceparent), {
      "http.request.method": "POST",
      "http.route": route,
      "client.address": clientAddress(req),
      "wecom_relay.source": source,
    });
    spans.set(res, span);
    res.once("close", () => {
      span.set({ "http.response.status_code": res.statusCode });
      if (res.statusCode >= 500 || !res.writableFinished) span.fail(res.writableFinished ? `answered ${res.statusCode}` : "connection closed before the answer");
      span.end();
    });
    next();
  };
}

/** The request's receive span, where the route has one. */
export function requestSpan(res: Response): Span | undefined {
  return spans.get(res);
}

/** trace_id and span_id for a log line about this request (nothing for requests without a span). */
export function requestTraceFields(res: Response): ReturnType<typeof traceFields> {
  return traceFields(requestSpan(res)?.context);
}
