import { describe, expect, it } from "vitest";
import { formatTraceparent, newSpanId, newTraceId, parseTraceparent, traceFields } from "../../src/tracing/trace-context.js";
import { idsOnlyTracer, sharedTrace } from "../../src/tracing/tracer.js";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

describe("W3C traceparent", () => {
  it("reads the trace id, the parent span and the sampled flag", () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: false });
    // Other flag bits are ignored; the sampled bit is bit 0.
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-02`)?.sampled).toBe(false);
  });

  it("accepts a later version with more fields after the four it knows", () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
  });

  it.each([
    ["absent", undefined],
    ["several headers", [`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`]],
    ["version ff", `ff-${TRACE}-${SPAN}-01`],
    ["version 00 with extra fields", `00-${TRACE}-${SPAN}-01-extra`],
    ["an all-zero trace id", `00-${"0".repeat(32)}-${SPAN}-01`],
    ["an all-zero parent id", `00-${TRACE}-${"0".repeat(16)}-01`],
    ["upper-case hex", `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ["a short trace id", `00-${TRACE.slice(1)}-${SPAN}-01`],
    ["garbage", "hello"],
    ["a huge header", `00-${TRACE}-${SPAN}-01-${"x".repeat(600)}`],
  ])("ignores %s (a new trace starts)", (_what, header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it("writes what it reads", () => {
    const ref = { traceId: TRACE, spanId: SPAN, sampled: true };
    expect(parseTraceparent(formatTraceparent(ref))).toEqual(ref);
    expect(formatTraceparent({ ...ref, sampled: false })).toBe(`00-${TRACE}-${SPAN}-00`);
  });

  it("makes new ids of the right length, different each time", () => {
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/);
    expect(newTraceId()).not.toBe(newTraceId());
  });

  it("names the trace and span in log fields", () => {
    expect(traceFields({ traceId: TRACE, spanId: SPAN, sampled: false })).toEqual({ trace_id: TRACE, span_id: SPAN });
    expect(traceFields(undefined)).toEqual({});
  });
});

describe("the ids-only tracer (tracing off)", () => {
  it("continues the sender's trace with a span id of its own, or starts a trace", () => {
    const continued = idsOnlyTracer.receive("POST /webhook/alertmanager", { traceId: TRACE, spanId: SPAN, sampled: true }, {});
    expect(continued.context).toMatchObject({ traceId: TRACE, sampled: true });
    expect(continued.context.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(continued.context.spanId).not.toBe(SPAN);
    expect(idsOnlyTracer.receive("x", undefined, {}).context.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("puts a send of one notification in its trace, and a digest of several in a new one", () => {
    const a = { traceId: TRACE, spanId: SPAN, sampled: false };
    const b = { traceId: "1".repeat(32), spanId: SPAN, sampled: false };
    expect(idsOnlyTracer.send([a, { ...a, spanId: "2".repeat(16) }], {}).context.traceId).toBe(TRACE);
    const digest = idsOnlyTracer.send([a, b], {}).context.traceId;
    expect([TRACE, b.traceId]).not.toContain(digest);
    expect(sharedTrace([])).toBeUndefined();
  });
});
