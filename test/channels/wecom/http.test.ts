import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getJson, postJson } from "../../../src/channels/wecom/http.js";
import { startFakeWeCom, type FakeWeCom } from "../../support/fake-wecom.js";

let wecom: FakeWeCom;
const SECRET = "corp-secret-value";

beforeAll(async () => {
  wecom = await startFakeWeCom({ apps: [{ corpId: "ww1", secret: SECRET }] });
});
afterAll(async () => {
  await wecom.close();
});
beforeEach(() => {
  wecom.reset();
});

const tokenUrl = () => `${wecom.url}/cgi-bin/gettoken?corpid=ww1&corpsecret=${SECRET}`;

describe("getJson", () => {
  it("returns the parsed JSON of a 2xx answer", async () => {
    const outcome = await getJson(tokenUrl(), { timeoutMs: 1000 });

    expect(outcome).toEqual({ ok: true, status: 200, json: expect.objectContaining({ errcode: 0, access_token: expect.any(String) }) });
  });

  it.each([
    { httpStatus: 500, kind: "retry", class: "http_5xx" },
    { httpStatus: 503, kind: "retry", class: "http_5xx" },
    { httpStatus: 408, kind: "retry", class: "http_4xx" },
    { httpStatus: 429, kind: "retry", class: "http_4xx" },
    { httpStatus: 403, kind: "permanent", class: "http_4xx" },
    { httpStatus: 401, kind: "permanent", class: "http_4xx" },
  ])("classifies HTTP $httpStatus as $kind ($class) without mentioning the URL", async ({ httpStatus, kind, class: failureClass }) => {
    wecom.failNext(1, { httpStatus });

    const outcome = await getJson(tokenUrl(), { timeoutMs: 1000 });

    expect(outcome).toMatchObject({ ok: false, failure: { kind, class: failureClass, error: expect.stringMatching(new RegExp(`^HTTP ${httpStatus}\\b`)) } });
    expect(JSON.stringify(outcome)).not.toContain(SECRET);
  });
});

describe("postJson", () => {
  it("sends the body as UTF-8 JSON", async () => {
    await postJson(`${wecom.url}/cgi-bin/webhook/send?key=k`, { msgtype: "text", text: { content: "告警" } }, { timeoutMs: 1000 });

    expect(wecom.robotMessages("k")[0]?.content).toBe("告警");
  });

  it("reads Retry-After given as an HTTP date", async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    wecom.failNext(1, { httpStatus: 429, headers: { "retry-after": at } });

    const outcome = await postJson(`${wecom.url}/cgi-bin/webhook/send?key=k`, {}, { timeoutMs: 1000 });

    expect(outcome.ok).toBe(false);
    const afterMs = outcome.ok ? 0 : (outcome.failure as { afterMs?: number }).afterMs ?? 0;
    expect(afterMs).toBeGreaterThan(25_000);
    expect(afterMs).toBeLessThanOrEqual(30_000);
  });

  it("calls a 2xx answer that is not JSON a bad response", async () => {
    wecom.failNext(1, { httpStatus: 200 });

    const outcome = await postJson(`${wecom.url}/cgi-bin/webhook/send?key=k`, {}, { timeoutMs: 1000 });

    expect(outcome).toMatchObject({ ok: false, failure: { kind: "retry", class: "bad_response", error: "HTTP 200 response is not JSON (text/html)" } });
  });

  it("times out an answer that comes too late", async () => {
    wecom.failNext(1, { delayMs: 2000 });

    const outcome = await postJson(`${wecom.url}/cgi-bin/webhook/send?key=k`, {}, { timeoutMs: 100 });

    expect(outcome).toEqual({ ok: false, failure: { kind: "retry", error: "request to 127.0.0.1:" + new URL(wecom.url).port + " timed out after 100 ms", class: "timeout" } });
  });
});
