// No cost when tracing is off: the OpenTelemetry SDK is not even imported.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay } from "../support/relay.js";

const loaded = vi.hoisted(() => new Set<string>());

vi.mock("@opentelemetry/sdk-trace-base", async (original) => {
  loaded.add("@opentelemetry/sdk-trace-base");
  return original();
});
vi.mock("@opentelemetry/exporter-trace-otlp-http", async (original) => {
  loaded.add("@opentelemetry/exporter-trace-otlp-http");
  return original();
});
vi.mock("@opentelemetry/api", async (original) => {
  loaded.add("@opentelemetry/api");
  return original();
});

describe("loading the tracing SDK", () => {
  let wecom: FakeWeCom;
  beforeAll(async () => {
    wecom = await startFakeWeCom();
  });
  afterAll(async () => {
    await wecom.close();
  });

  it("loads nothing of OpenTelemetry without `tracing`, and loads it when `tracing` is set", async () => {
    const off = await startRelay(robotConfig(wecom.url));
    expect((await off.post("/webhook/alertmanager", alertmanagerPayload([{ name: "Untraced" }]))).status).toBe(200);
    await wecom.waitForRobotMessages(1);
    await off.close();
    expect([...loaded]).toEqual([]);

    const on = await startRelay(robotConfig(wecom.url).replace("targets:", 'tracing: { otlp_endpoint: "http://127.0.0.1:9" }\ntargets:'));
    await on.close();
    expect([...loaded].sort()).toEqual(["@opentelemetry/api", "@opentelemetry/exporter-trace-otlp-http", "@opentelemetry/sdk-trace-base"]);
  });
});
