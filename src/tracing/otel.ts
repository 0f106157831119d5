// The tracer on the OpenTelemetry SDK: spans batched and sent over OTLP/HTTP (JSON) to
// `<otlp_endpoint>/v1/traces`. Imported only when `tracing` is configured. Parents are
// passed explicitly (no global provider, context manager or propagator is installed), so
// nothing else in the process is instrumented or slowed.
import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Link, type Span as OtelSpan, type SpanContext } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";
import type { TracingConfig } from "../config/schema.js";
import { logger } from "../log.js";
import type { TraceRef } from "../types.js";
import { sharedTrace, type Span, type SpanAttributes, type Tracer } from "./tracer.js";

/** The collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT: traces go to /v1/traces under it. */
export function tracesUrl(endpoint: string): string {
  return new URL("v1/traces", endpoint.endsWith("/") ? endpoint : `${endpoint}/`).toString();
}

function spanContext(ref: TraceRef, isRemote: boolean): SpanContext {
  return { traceId: ref.traceId, spanId: ref.spanId, traceFlags: ref.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote };
}

function attributesOf(attributes: SpanAttributes): Record<string, string | number | boolean | string[]> {
  const out: Record<string, string | number | boolean | string[]> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined) out[key] = typeof value === "object" ? [...value] : value;
  }
  return out;
}

class OtelSpanHandle implements Span {
  readonly context: TraceRef;

  constructor(private readonly span: OtelSpan) {
    const { traceId, spanId, traceFlags } = span.spanContext();
    this.context = { traceId, spanId, sampled: (traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED };
  }

  set(attributes: SpanAttributes): void {
    this.span.setAttributes(attributesOf(attributes));
  }

  fail(message: string): void {
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  end(): void {
    this.span.end();
  }
}

/** The SDK's own complaints (a collector that does not answer) go to the log, as warnings. */
function forwardDiagnostics(): void {
  const warn = (message: string, ...args: unknown[]) => logger.warn("tracing: span export problem", { detail: [message, ...args.map(String)].join(" ") });
  diag.setLogger({ error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

export function createOtelTracer(config: TracingConfig, version: string): Tracer {
  forwardDiagnostics();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "wecom-relay", "service.version": version }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl(config.otlp_endpoint) }))],
  });
  const tracer = provider.getTracer("wecom-relay", version);
  const under = (parent: TraceRef | undefined, isRemote: boolean) => (parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, spanContext(parent, isRemote)));

  return {
    exporting: true,
    receive: (name, parent, attributes) =>
      new OtelSpanHandle(tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: attributesOf(attributes) }, under(parent, true))),
    child: (parent, name, attributes = {}) =>
      new OtelSpanHandle(tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes: attributesOf(attributes) }, under(parent.context, false))),
    send: (carried, attributes) => {
      // One link per notification (the parts of a split message share their receive span).
      const links: Link[] = [...new Map(carried.map((ref) => [ref.spanId, ref])).values()].map((ref) => ({ context: spanContext(ref, true) }));
      // Across the outbox (maybe on another replica): the receive span is a remote parent.
      const parent = sharedTrace(carried);
      return new OtelSpanHandle(tracer.startSpan("send", { kind: SpanKind.CLIENT, links, attributes: attributesOf(attributes) }, under(parent, true)));
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
