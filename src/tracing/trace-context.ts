// W3C trace context (https://www.w3.org/TR/trace-context/): reading a sender's
// `traceparent`, making new ids, and the log fields that name a trace. No tracing SDK is
// needed for any of it, so every notification has a trace id whether or not spans are exported.
import { randomFillSync } from "node:crypto";
import type { TraceRef } from "../types.js";

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** The sender's trace context, or undefined when the header is absent or invalid (a new trace starts). */
export function parseTraceparent(header: string | string[] | undefined): TraceRef | undefined {
  if (typeof header !== "string" || header.length > 512) return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has exactly four fields; later versions may append more.
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(ref: TraceRef): string {
  return `00-${ref.traceId}-${ref.spanId}-${ref.sampled ? "01" : "00"}`;
}

/** Random bytes drawn a pool at a time: one call into the system's generator per ~170 notifications, not two per notification. */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

function randomHex(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
      used = 0;
    }
    const hex = pool.toString("hex", used, used + bytes);
    used += bytes;
    // All zeros is W3C's "invalid"; a chance of 2^-64 at most, but never sent.
    if (!/^0+$/.test(hex)) return hex;
  }
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}

/** The fields a log line about this trace carries: trace_id, and span_id where a span is meant. */
export function traceFields(ref: TraceRef | undefined): { trace_id?: string; span_id?: string } {
  return ref === undefined ? {} : { trace_id: ref.traceId, span_id: ref.spanId };
}
