import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogs } from "../support/capture-logs.js";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";

const ROBOT_KEY = "robot-key-5f3e2a1b9c8d7e6f";
const AM_TOKEN = "am-bearer-token-0123456789abcdef";
const hex = (length: number, digit: string) => digit.repeat(length);

interface Status {
  state: string;
  trace_id?: string;
  deliveries: { id: string; state: string }[];
}

describe("tracing a notification's journey", () => {
  let wecom: FakeWeCom;
  let otlp: OtlpReceiver;
  let relay: RunningRelay;
  let logs: ReturnType<typeof captureLogs>;
  let seq = 0;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100, perMs: 1000 } });
    otlp = await startOtlpReceiver();
    const config = robotConfig(wecom.url, { keys: [ROBOT_KEY], coalesceAfter: "100ms" }).replace(
      "targets:",
      `tracing: { otlp_endpoint: "${otlp.url}" }\nauth:\n  alertmanager: { bearer_token: "${AM_TOKEN}" }\ntargets:`,
    );
    relay = await startRelay(config);
    logs = captureLogs("debug");
  });
  afterAll(async () => {
    logs.stop();
    await relay.close();
    await otlp.close();
    await wecom.close();
  });

  async function notify(traceparent?: string): Promise<string> {
    seq += 1;
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: `Traced${seq}` }]), {
      authorization: `Bearer ${AM_TOKEN}`,
      ...(traceparent !== undefined && { traceparent }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { id: string }).id;
  }

  const status = async (id: string): Promise<Status> =>
    (await (await fetch(`${relay.url}/api/v1/messages/${id}`)).json()) as Status;

  /** Once the API says sent, the send span has ended (it ends right after the row is marked): export what there is. */
  async function sentAndExported(...ids: string[]): Promise<Status[]> {
    for (const id of ids) await expect.poll(async () => (await status(id)).state, { timeout: 8000 }).toBe("sent");
    await relay.service.tracer.flush();
    return Promise.all(ids.map(status));
  }

  const inTrace = (traceId: string) => otlp.spans().filter((span) => span.traceId === traceId);
  const named = (spans: ReceivedSpan[], name: string) => spans.filter((span) => span.name === name);
  const logLines = (msg: string) => logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === msg);

  it("continues the sender's traceparent: receive → route → render → outbox commit → send, parented and linked, with their attributes", async () => {
    const traceId = hex(31, "a") + "1";
    const senderSpan = hex(15, "b") + "2";
    const id = await notify(`00-${traceId}-${senderSpan}-01`);
    const [done] = await sentAndExported(id);
    expect(done!.trace_id).toBe(traceId);

    const spans = inTrace(traceId);
    const [receive] = named(spans, "POST /webhook/alertmanager");
    expect(receive).toMatchObject({ parentSpanId: senderSpan, kind: 2 });
    expect(receive!.attributes).toMatchObject({
      "http.route": "/webhook/alertmanager",
      "http.response.status_code": 200,
      "wecom_relay.source": "alertmanager",
      "wecom_relay.request_id": id,
      "wecom_relay.delivery_ids": done!.deliveries.map((d) => d.id),
      "wecom_relay.duplicate": false,
    });
    expect(receive!.resource).toMatchObject({ "service.name": "wecom-relay" });

    for (const step of ["route", "render", "outbox commit"]) {
      const [span] = named(spans, step);
      expect(span, step).toMatchObject({ parentSpanId: receive!.spanId, kind: 1 });
    }
    expect(named(spans, "route")[0]!.attributes).toMatchObject({ "wecom_relay.receivers": ["sre"], "wecom_relay.routes": ["route"] });
    expect(named(spans, "render")[0]!.attributes).toMatchObject({ "wecom_relay.messages": 1, "wecom_relay.templates": ["alertmanager.markdown"] });
    expect(named(spans, "outbox commit")[0]!.attributes).toMatchObject({ "db.system.name": "sqlite", "wecom_relay.request_id": id });

    const sends = named(spans, "send");
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ parentSpanId: receive!.spanId, kind: 3, links: [{ traceId, spanId: receive!.spanId }] });
    expect(sends[0]!.attributes).toMatchObject({
      "wecom_relay.target": "robot-1",
      "wecom_relay.receiver": "sre",
      "wecom_relay.result": "ok",
      "wecom_relay.decision": "sent",
      "wecom_relay.attempt": 1,
      "wecom_relay.coalesced": false,
      "wecom_relay.delivery_ids": done!.deliveries.map((d) => d.id),
    });
    expect(otlp.paths().every((path) => path === "/v1/traces")).toBe(true);

    // The log lines of the notification name its trace, their span and, once stored, its deliveries.
    const [queued] = logLines("queued").filter((line) => line.request_id === id);
    expect(queued).toMatchObject({ trace_id: traceId, span_id: receive!.spanId, delivery_ids: done!.deliveries.map((d) => d.id) });
    const [delivered] = logLines("delivered").filter((line) => line.trace_id === traceId);
    expect(delivered).toMatchObject({ span_id: sends[0]!.spanId, delivery_ids: done!.deliveries.map((d) => d.id) });
    expect(delivered).not.toHaveProperty("trace_ids");
  });

  it("starts a trace when the sender has none (or a malformed one), and gives each send attempt a span with its errcode and retry decision", async () => {
    wecom.failNext(1, { errcode: -1, errmsg: "system busy" }, "robot");
    const id = await notify("00-not-a-trace-01");
    const [done] = await sentAndExported(id);
    const traceId = done!.trace_id!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    const spans = inTrace(traceId);
    const [receive] = named(spans, "POST /webhook/alertmanager");
    expect(receive!.parentSpanId).toBeUndefined();
    const sends = named(spans, "send").sort((a, b) => Number(a.attributes["wecom_relay.attempt"]) - Number(b.attributes["wecom_relay.attempt"]));
    expect(sends.map((span) => span.attributes["wecom_relay.attempt"])).toEqual([1, 2]);
    expect(sends[0]!.status).toMatchObject({ code: 2 });
    expect(sends[0]!.status.message).toMatch(/system busy/);
    expect(sends[0]!.attributes).toMatchObject({ "wecom_relay.result": "retry", "wecom_relay.errcode": -1, "wecom_relay.decision": "retry", "wecom_relay.retry_rows": 1 });
    expect(sends[1]!.attributes).toMatchObject({ "wecom_relay.result": "ok", "wecom_relay.decision": "sent" });
    for (const send of sends) expect(send).toMatchObject({ parentSpanId: receive!.spanId, links: [{ traceId, spanId: receive!.spanId }] });

    const [failed] = logLines("send failed; will retry").filter((line) => line.trace_id === traceId);
    expect(failed).toMatchObject({ span_id: sends[0]!.spanId, delivery_ids: done!.deliveries.map((d) => d.id), errcode: -1 });
  });

  it("sends a digest in a trace of its own, linked to the receive span of every notification it carries", async () => {
    // The first send is slow; three more notifications queue up behind it and go out as one digest.
    wecom.failNext(1, { delayMs: 700 }, "robot");
    const before = wecom.robotMessages().length;
    const first = await notify();
    await expect.poll(() => wecom.requests("robot").length).toBeGreaterThan(before);
    const carried = [await notify(), await notify(), await notify()];
    const statuses = await sentAndExported(first, ...carried);
    const traces = statuses.slice(1).map((s) => s.trace_id!);
    expect(new Set(traces).size).toBe(3);

    const receives = traces.map((traceId) => named(inTrace(traceId), "POST /webhook/alertmanager")[0]!);
    const digest = otlp.spans().find((span) => span.name === "send" && span.attributes["wecom_relay.coalesced"] === true);
    expect(digest).toBeDefined();
    expect(digest!.attributes).toMatchObject({ "wecom_relay.rows": 3, "wecom_relay.result": "ok" });
    expect(digest!.parentSpanId).toBeUndefined();
    expect(traces).not.toContain(digest!.traceId);
    expect(digest!.links.sort((a, b) => a.spanId.localeCompare(b.spanId))).toEqual(
      receives.map((receive) => ({ traceId: receive.traceId, spanId: receive.spanId })).sort((a, b) => a.spanId.localeCompare(b.spanId)),
    );
    const [delivered] = logLines("delivered").filter((line) => line.trace_id === digest!.traceId);
    expect(delivered).toMatchObject({ span_id: digest!.spanId });
    expect([...(delivered!.trace_ids as string[])].sort()).toEqual([...traces].sort());
  });

  it("exports no secret: not the robot key, its webhook URL, nor the sender's token", () => {
    const exported = otlp.bodies().join("\n");
    expect(exported.length).toBeGreaterThan(0);
    expect(exported).not.toContain(ROBOT_KEY);
    expect(exported).not.toContain("key=");
    expect(exported).not.toContain(AM_TOKEN);
  });
});

describe("sampling", () => {
  it("with sample_ratio 0 keeps no new trace, but continues one the sender sampled", async () => {
    const wecom = await startFakeWeCom();
    const otlp = await startOtlpReceiver();
    const relay = await startRelay(robotConfig(wecom.url).replace("targets:", `tracing: { otlp_endpoint: "${otlp.url}/", sample_ratio: 0 }\ntargets:`));
    try {
      const sampled = hex(31, "c") + "3";
      await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Unsampled" }]));
      await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Sampled" }]), { traceparent: `00-${sampled}-${hex(15, "d")}4-01` });
      await wecom.waitForRobotMessages(2);
      await relay.service.tracer.flush();
      const spans = otlp.spans();
      expect(spans.length).toBeGreaterThan(0);
      expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([sampled]));
    } finally {
      await relay.close();
      await otlp.close();
      await wecom.close();
    }
  });
});

describe("the tracing section", () => {
  it("refuses an endpoint that is not http(s) and a ratio outside 0..1, at their keys", async () => {
    const { parseConfig } = await import("../../src/config/load.js");
    const errorsOf = (tracing: string) => {
      const result = parseConfig(`tracing: ${tracing}\ntargets: { r: { type: log } }\nreceivers: [{ name: sre, targets: [r] }]\nroute: { receiver: sre }\n`, "routes.yml", {});
      return "errors" in result ? result.errors.map((e) => `${e.path.join(".")}: ${e.message}`) : [];
    };
    expect(errorsOf("{ otlp_endpoint: 'grpc://collector:4317' }")).toEqual(["tracing.otlp_endpoint: must be an http:// or https:// URL (OTLP/HTTP)"]);
    expect(errorsOf("{ otlp_endpoint: 'collector:4318' }")).toEqual(["tracing.otlp_endpoint: must be an http:// or https:// URL (OTLP/HTTP)"]);
    expect(errorsOf("{ otlp_endpoint: 'http://collector:4318', sample_ratio: 1.5 }")).toEqual(["tracing.sample_ratio: must be at most 1"]);
    expect(errorsOf("{ otlp_endpoint: 'https://collector.example.com/otlp' }")).toEqual([]);
  });

  it("posts spans to /v1/traces under the endpoint, with or without a path or a trailing slash", async () => {
    const { tracesUrl } = await import("../../src/tracing/otel.js");
    expect(tracesUrl("http://otel-collector:4318")).toBe("http://otel-collector:4318/v1/traces");
    expect(tracesUrl("http://otel-collector:4318/")).toBe("http://otel-collector:4318/v1/traces");
    expect(tracesUrl("https://gateway.example.com/otlp")).toBe("https://gateway.example.com/otlp/v1/traces");
  });
});
