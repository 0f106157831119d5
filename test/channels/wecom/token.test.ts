import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { TokenCache, type AppCredentials, type TokenOutcome } from "../../../src/channels/wecom/token.js";
import { redactor } from "../../../src/log.js";
import { createMetrics, type Metrics } from "../../../src/metrics.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom } from "../../support/fake-wecom.js";

const TTL_MS = 7_200_000;
const OTHER_APP = { corpId: DEFAULT_FAKE_APP.corpId, secret: "second-app-secret" };

// One clock for the fake and the cache, so expiry can be tested without waiting.
let clock = 1_700_000_000_000;
let wecom: FakeWeCom;

beforeAll(async () => {
  wecom = await startFakeWeCom({ apps: [DEFAULT_FAKE_APP, OTHER_APP], tokenTtlMs: TTL_MS, now: () => clock });
});
afterAll(async () => {
  await wecom.close();
});
beforeEach(() => {
  wecom.reset();
  clock = 1_700_000_000_000;
});

function credentials(overrides: Partial<AppCredentials> = {}): AppCredentials {
  return { apiBase: wecom.url, corpId: DEFAULT_FAKE_APP.corpId, secret: DEFAULT_FAKE_APP.secret, ...overrides };
}

function cache(options: ConstructorParameters<typeof TokenCache>[0] = {}): TokenCache {
  return new TokenCache({ now: () => clock, ...options });
}

const requester = { target: "ops-app", timeoutMs: 2000 };

/** Every gettoken request, including those answered with an injected fault. */
const gettokenRequests = () => wecom.requests("gettoken").length;

function tokenOf(outcome: TokenOutcome): string {
  if (!outcome.ok) throw new Error(`expected a token, got: ${outcome.failure.error}`);
  return outcome.token;
}

async function refreshCount(metrics: Metrics, result: string): Promise<number> {
  const { values } = await metrics.tokenRefreshes.get();
  return values.find((v) => v.labels.target === "ops-app" && v.labels.result === result)?.value ?? 0;
}

describe("TokenCache", () => {
  it("fetches a token once and reuses it while it is fresh", async () => {
    const tokens = cache();
    const first = tokenOf(await tokens.get(credentials(), requester));
    clock += TTL_MS * 0.5;
    const second = tokenOf(await tokens.get(credentials(), requester));

    expect(second).toBe(first);
    expect(gettokenRequests()).toBe(1);
    expect(wecom.issuedTokens()).toEqual([first]);
  });

  it("makes one gettoken call for 40 concurrent requests on a cold cache", async () => {
    // One exchange, stated with nock: a slow gettoken that answers once. A second call
    // would find no interceptor and fail the fetch.
    nock.disableNetConnect();
    const scope = nock("https://wecom.test")
      .get("/cgi-bin/gettoken")
      .query({ corpid: DEFAULT_FAKE_APP.corpId, corpsecret: DEFAULT_FAKE_APP.secret })
      .delay(50)
      .reply(200, { errcode: 0, errmsg: "ok", access_token: "single-flight-token", expires_in: 7200 });
    try {
      const tokens = cache();
      const outcomes = await Promise.all(Array.from({ length: 40 }, () => tokens.get(credentials({ apiBase: "https://wecom.test" }), requester)));

      expect(scope.isDone()).toBe(true);
      expect(new Set(outcomes.map(tokenOf))).toEqual(new Set(["single-flight-token"]));
    } finally {
      nock.cleanAll();
      nock.enableNetConnect();
    }
  });

  it("shares a token between targets with the same corp and secret, keeping other secrets and API bases apart", async () => {
    const elsewhere = await startFakeWeCom({ now: () => clock });
    try {
      const tokens = cache();
      const a = tokenOf(await tokens.get(credentials(), { ...requester, target: "ops-app" }));
      const b = tokenOf(await tokens.get(credentials(), { ...requester, target: "oncall-app" }));
      // A trailing slash names the same API base.
      const sameBase = tokenOf(await tokens.get(credentials({ apiBase: `${wecom.url}/` }), requester));
      const otherSecret = tokenOf(await tokens.get(credentials({ secret: OTHER_APP.secret }), requester));
      const otherBase = tokenOf(await tokens.get(credentials({ apiBase: elsewhere.url }), requester));

      expect([b, sameBase]).toEqual([a, a]);
      expect(otherSecret).not.toBe(a);
      expect(otherBase).not.toBe(a);
      expect(gettokenRequests()).toBe(2);
      expect(elsewhere.requests("gettoken").length).toBe(1);
    } finally {
      await elsewhere.close();
    }
  });

  it("refreshes in the background once 90% of the lifetime has passed, handing out the old token meanwhile", async () => {
    const tokens = cache();
    const first = tokenOf(await tokens.get(credentials(), requester));

    clock += TTL_MS * 0.9 - 1000;
    expect(tokenOf(await tokens.get(credentials(), requester))).toBe(first);
    expect(gettokenRequests()).toBe(1);

    clock += 2000;
    expect(tokenOf(await tokens.get(credentials(), requester))).toBe(first);
    await vi.waitFor(async () => expect(tokenOf(await tokens.get(credentials(), requester))).not.toBe(first));
    expect(gettokenRequests()).toBe(2);
  });

  it("refreshes the margin ahead of expiry when that comes before 90% of the lifetime", async () => {
    const tokens = cache({ refreshMarginMs: TTL_MS * 0.25 });
    const first = tokenOf(await tokens.get(credentials(), requester));
    clock += TTL_MS * 0.75 + 1000;
    await tokens.get(credentials(), requester);
    await vi.waitFor(async () => expect(tokenOf(await tokens.get(credentials(), requester))).not.toBe(first));
    expect(gettokenRequests()).toBe(2);
  });

  it("waits for a new token once the old one has expired", async () => {
    const tokens = cache();
    const first = tokenOf(await tokens.get(credentials(), requester));
    clock += TTL_MS;
    const second = tokenOf(await tokens.get(credentials(), requester));

    expect(second).not.toBe(first);
    expect(gettokenRequests()).toBe(2);
  });

  it("fetches a new token after invalidate, once however many senders report the same old token", async () => {
    const tokens = cache();
    const first = tokenOf(await tokens.get(credentials(), requester));
    tokens.invalidate(credentials(), first);
    const second = tokenOf(await tokens.get(credentials(), requester));
    // A sender still holding the first token reports it late: the second one stays.
    tokens.invalidate(credentials(), first);
    const third = tokenOf(await tokens.get(credentials(), requester));

    expect(second).not.toBe(first);
    expect(third).toBe(second);
    expect(gettokenRequests()).toBe(2);
  });

  it("reports a wrong secret as permanent, naming the corp but not the secret", async () => {
    const outcome = await cache().get(credentials({ secret: "wrong-secret-value" }), requester);

    expect(outcome).toEqual({
      ok: false,
      failure: { kind: "permanent", errcode: 40001, error: `invalid corp secret for corp ${DEFAULT_FAKE_APP.corpId} (gettoken errcode 40001)` },
    });
  });

  it("reports an unknown corp id as permanent", async () => {
    const outcome = await cache().get(credentials({ corpId: "ww-unknown" }), requester);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.failure).toMatchObject({ kind: "permanent", errcode: 40013, error: expect.stringContaining("ww-unknown") });
  });

  it.each([
    ["WeCom busy (-1)", { errcode: -1 }, "retry"],
    ["an HTTP 502 from a proxy", { httpStatus: 502 }, "retry"],
    ["an answer without access_token", { httpStatus: 200, body: '{"errcode":0,"errmsg":"ok"}', contentType: "application/json" }, "retry"],
    ["an IP not on the trusted list (60020)", { errcode: 60020 }, "permanent"],
  ] as const)("classifies a gettoken failure from %s as %s", async (_label, fault, kind) => {
    wecom.failNext(1, fault, "gettoken");
    const outcome = await cache().get(credentials(), requester);
    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.failure.kind).toBe(kind);
    expect(!outcome.ok && outcome.failure.error).toMatch(/^gettoken/);
  });

  it("does not ask gettoken again during the backoff after a failure, then tries again", async () => {
    const tokens = cache({ transientBackoffMs: 5000 });
    wecom.failNext(1, { errcode: -1 }, "gettoken");
    await tokens.get(credentials(), requester);

    clock += 4000;
    const during = await tokens.get(credentials(), requester);
    expect(during).toMatchObject({ ok: false, failure: { kind: "retry", afterMs: 1000 } });
    expect(!during.ok && during.failure.error).toContain("gettoken not retried for another 1000 ms");
    expect(gettokenRequests()).toBe(1);

    clock += 1001;
    expect((await tokens.get(credentials(), requester)).ok).toBe(true);
    expect(gettokenRequests()).toBe(2);
  });

  it("doubles the backoff with each consecutive failure", async () => {
    const tokens = cache({ transientBackoffMs: 1000 });
    wecom.failNext(2, { errcode: -1 }, "gettoken");
    await tokens.get(credentials(), requester);
    clock += 1001;
    await tokens.get(credentials(), requester);
    clock += 1001;

    const outcome = await tokens.get(credentials(), requester);
    expect(outcome).toMatchObject({ ok: false, failure: { kind: "retry", afterMs: 999 } });
    expect(gettokenRequests()).toBe(2);
  });

  it("retries a transient gettoken failure within seconds however long it lasted (default backoff capped at 10 s)", async () => {
    const tokens = cache();
    wecom.failNext(12, { errcode: -1 }, "gettoken");
    for (let i = 0; i < 12; i++) {
      await tokens.get(credentials(), requester);
      clock += 10_001;
    }
    expect(gettokenRequests()).toBe(12);
    // WeCom recovered: the next send gets a token at once.
    expect((await tokens.get(credentials(), requester)).ok).toBe(true);
  });

  it("keeps answering a wrong secret as permanent during the backoff without asking WeCom", async () => {
    const tokens = cache();
    const wrong = credentials({ secret: "wrong-secret-value" });
    await tokens.get(wrong, requester);
    const again = await tokens.get(wrong, requester);

    expect(again).toMatchObject({ ok: false, failure: { kind: "permanent", errcode: 40001 } });
    expect(gettokenRequests()).toBe(1);
  });

  it("keeps handing out a still-valid token when its early refresh fails", async () => {
    const metrics = createMetrics();
    const tokens = cache();
    const first = tokenOf(await tokens.get(credentials(), { ...requester, metrics }));
    wecom.failNext(1, { errcode: -1 }, "gettoken");
    clock += TTL_MS * 0.95;
    expect(tokenOf(await tokens.get(credentials(), { ...requester, metrics }))).toBe(first);
    await vi.waitFor(async () => expect(await refreshCount(metrics, "failure")).toBe(1));

    // Still valid, and the failed refresh is not repeated at once.
    expect(tokenOf(await tokens.get(credentials(), { ...requester, metrics }))).toBe(first);
    expect(gettokenRequests()).toBe(2);
  });

  it("counts fetches by result and registers each token for log redaction", async () => {
    const metrics = createMetrics();
    const tokens = cache();
    await tokens.get(credentials({ secret: "wrong-secret-value" }), { ...requester, metrics });
    const token = tokenOf(await tokens.get(credentials(), { ...requester, metrics }));

    expect(await refreshCount(metrics, "success")).toBe(1);
    expect(await refreshCount(metrics, "failure")).toBe(1);
    expect(redactor.redact(`token is ${token}`)).toBe("token is [REDACTED]");
  });
});
