// The tracing seam the pipeline uses: receive → route → render → outbox commit, and each
// send attempt linked to the receive span of every notification it carries. Without
// `tracing` in the config the ids-only tracer stands in: trace ids for log lines and the
// outbox, nothing recorded, and the OpenTelemetry SDK never loaded (it is imported only
// when `tracing` is configured).
import type { TracingConfig } from "../config/schema.js";
import type { TraceRef } from "../types.js";
import { newSpanId, newTraceId } from "./trace-context.js";

/** Span attributes: names from the config, counts, ids, closed sets. Never payload text, URLs or secrets. */
export type SpanAttributes = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface Span {
  readonly context: TraceRef;
  set(attributes: SpanAttributes): void;
  /** Marks the span failed; `message` must already be free of secrets. */
  fail(message: string): void;
  end(): void;
}

export interface Tracer {
  /** True when spans are exported (the OpenTelemetry SDK is loaded). */
  readonly exporting: boolean;
  /** A request that brings a notification: continues the sender's trace (`traceparent`) or starts one. */
  receive(name: string, parent: TraceRef | undefined, attributes: SpanAttributes): Span;
  /** A step within another span (route, render, outbox commit). */
  child(parent: Span, name: string, attributes?: SpanAttributes): Span;
  /**
   * One send attempt, linked to the receive span of every notification it carries; in their
   * trace when they all share one (a single notification), else in a trace of its own (a digest).
   */
  send(carried: readonly TraceRef[], attributes: SpanAttributes): Span;
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The trace id every carried notification shares, if they share one. */
export function sharedTrace(carried: readonly TraceRef[]): TraceRef | undefined {
  const [first] = carried;
  return first !== undefined && carried.every((ref) => ref.traceId === first.traceId) ? first : undefined;
}

class IdsOnlySpan implements Span {
  constructor(readonly context: TraceRef) {}
  set(): void {}
  fail(): void {}
  end(): void {}
}

/** Tracing off: ids for logs and the outbox, nothing recorded or sent. */
export const idsOnlyTracer: Tracer = {
  exporting: false,
  receive: (_name, parent) => new IdsOnlySpan({ traceId: parent?.traceId ?? newTraceId(), spanId: newSpanId(), sampled: parent?.sampled ?? false }),
  // No span of its own: log lines name the receive span.
  child: (parent) => parent,
  send: (carried) => new IdsOnlySpan({ traceId: sharedTrace(carried)?.traceId ?? newTraceId(), spanId: newSpanId(), sampled: false }),
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/** The tracer for `config`: the ids-only one when absent, else the OpenTelemetry SDK, loaded now. */
export async function startTracer(config: TracingConfig | undefined, version: string): Promise<Tracer> {
  if (config === undefined) return idsOnlyTracer;
  const { createOtelTracer } = await import("./otel.js");
  return createOtelTracer(config, version);
}
