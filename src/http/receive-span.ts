// The receive span of a request that brings a notification: started when the request
// arrives (continuing the sender's `traceparent`), ended when the answer is sent, and kept
// with the response so every later step and log line of the request names its trace.
import type { RequestHandler, Response } from "express";
import { parseTraceparent, traceFields } from "../tracing/trace-context.js";
import type { Span, Tracer } from "../tracing/tracer.js";
import { clientAddress } from "./client-address.js";

/** Where the span is kept on the response (res.locals lives exactly as long as the request). */
const SPAN_KEY = "wecomRelayReceiveSpan";

/** For `POST route`: the span's name is the route as written (never the path a client sent). */
export function receiveSpan(tracer: () => Tracer, route: string, source: string): RequestHandler {
  const name = `POST ${route}`;
  return (req, res, next) => {
    const current = tracer();
    const parent = parseTraceparent(req.headers.traceparent);
    if (!current.exporting) {
      // Tracing off: the ids are all there is; nothing to record or to end.
      res.locals[SPAN_KEY] = current.receive(name, parent, {});
      return next();
    }
    const span = current.receive(name, parent, {
      "http.request.method": "POST",
      "http.route": route,
      "client.address": clientAddress(req),
      "wecom_relay.source": source,
    });
    res.locals[SPAN_KEY] = span;
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
  return res.locals[SPAN_KEY] as Span | undefined;
}

/** trace_id and span_id for a log line about this request (nothing for requests without a span). */
export function requestTraceFields(res: Response): ReturnType<typeof traceFields> {
  return traceFields(requestSpan(res)?.context);
}
