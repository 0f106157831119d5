// Random bodies, content types and bytes against every inbound endpoint: never a 5xx,
// always a JSON error, and the relay keeps serving.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeWeCom, type FakeWeCom } from "../support/fake-wecom.js";
import { mutated } from "../support/mutate.js";
import { alertmanagerPayload } from "../support/payloads.js";
import { robotConfig, startRelay, type RunningRelay } from "../support/relay.js";
import { until } from "../support/wait.js";

const ENDPOINTS = ["/webhook/alertmanager", "/webhook/grafana", "/webhook/github", "/api/v1/messages", "/wecom/callback/robot-1"];

describe("hostile HTTP input", () => {
  let wecom: FakeWeCom;
  let relay: RunningRelay;

  beforeAll(async () => {
    wecom = await startFakeWeCom({ robotRateLimit: { max: 100_000, perMs: 1000 } });
    relay = await startRelay(robotConfig(wecom.url, { rate: "{ max: 1000, per: 1s }" }).replace("targets:", "server: { max_body: 64KiB }\ntargets:"));
  });
  afterAll(async () => {
    await relay.close();
    await wecom.close();
  });

  async function send(path: string, body: Uint8Array | string, contentType: string): Promise<Response> {
    return fetch(relay.url + path, { method: "POST", headers: { "content-type": contentType }, body });
  }

  async function expectHandled(res: Response): Promise<void> {
    expect(res.status).toBeLessThan(500);
    if (res.status >= 400) {
      const body = (await res.json()) as { error: unknown };
      expect(typeof body.error).toBe("string");
    } else {
      await res.arrayBuffer();
    }
  }

  it("answers arbitrary JSON with 2xx or a JSON 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), fc.jsonValue(), async (path, body) => {
        await expectHandled(await send(path, JSON.stringify(body) ?? "null", "application/json"));
      }),
      { numRuns: 150 },
    );
  });

  it("answers mutated Alertmanager payloads with 200 or a 400 naming the field", async () => {
    await fc.assert(
      fc.asyncProperty(mutated(alertmanagerPayload([{ name: "A" }])), async (body) => {
        const res = await send("/webhook/alertmanager", JSON.stringify(body) ?? "null", "application/json");
        await expectHandled(res);
        expect([200, 400]).toContain(res.status);
      }),
      { numRuns: 150 },
    );
  });

  it("answers random bytes and content types with a JSON 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS),
        fc.uint8Array({ maxLength: 2048 }),
        fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "", "multipart/form-data"),
        async (path, bytes, contentType) => {
          await expectHandled(await send(path, bytes, contentType));
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each(ENDPOINTS)("answers 400, not a stack overflow, for deeply nested JSON on %s", async (path) => {
    const nested = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const res = await send(path, nested, "application/json");
    if (path.startsWith("/wecom")) return expect(res.status).toBe(404); // no callback configured
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("JSON nested deeper than 64 levels");
  });

  it("answers GitHub deliveries of random events and shapes with 2xx or a JSON 4xx", async () => {
    const events = ["push", "pull_request", "issues", "issue_comment", "release", "workflow_run", "check_run", "deployment_status", "secret_scanning_alert", "star", "ping"];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...events), fc.oneof(fc.jsonValue(), mutated({ action: "opened", repository: { full_name: "o/r" }, sender: { login: "u" } })), async (event, body) => {
        const res = await fetch(`${relay.url}/webhook/github`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-github-event": event },
          body: JSON.stringify(body) ?? "null",
        });
        await expectHandled(res);
      }),
      { numRuns: 150 },
    );
  });

  it("still delivers after the barrage", async () => {
    wecom.reset();
    const res = await relay.post("/webhook/alertmanager", alertmanagerPayload([{ name: "AfterBarrage" }]));
    expect(res.status).toBe(200);
    await until(() => wecom.robotMessages().some((m) => m.content.includes("AfterBarrage")), () => "the alert sent after the barrage", 15_000);
  });
});
