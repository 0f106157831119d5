import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  appRecipients,
  createAppChannel,
  textcardMessage,
  type AppChannelOptions,
  type InvalidRecipients,
} from "../../../src/channels/wecom/app.js";
import { TokenCache } from "../../../src/channels/wecom/token.js";
import type { AppTargetConfig } from "../../../src/config/schema.js";
import type { Message, SendResult } from "../../../src/types.js";
import { captureLogs } from "../../support/capture-logs.js";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom } from "../../support/fake-wecom.js";
import { message as baseMessage } from "../../support/messages.js";

const TARGET: AppTargetConfig = {
  type: "app",
  corp_id: DEFAULT_FAKE_APP.corpId,
  secret: DEFAULT_FAKE_APP.secret,
  agent_id: DEFAULT_FAKE_APP.agentId,
  rate_limit: { max: 30, per: 60_000 },
  to_user: ["zhangsan", "lisi"],
};

const message = (overrides: Partial<Message> = {}): Message =>
  baseMessage({ target: "ops-app", msgtype: "text", content: "[FIRING] HighLatency on api", ...overrides });

let wecom: FakeWeCom;

beforeAll(async () => {
  wecom = await startFakeWeCom({ unknownUsers: ["ghost"] });
});
afterAll(async () => {
  await wecom.close();
});
beforeEach(() => {
  wecom.reset();
});

function app(overrides: Omit<Partial<AppChannelOptions>, "target"> & { target?: Partial<AppTargetConfig> } = {}) {
  const { target, ...rest } = overrides;
  return createAppChannel({
    name: "ops-app",
    apiBase: wecom.url,
    timeoutMs: 2000,
    tokens: new TokenCache(),
    ...rest,
    target: { ...TARGET, ...target },
  });
}

/** Every gettoken request, including those answered with an injected fault. */
const gettokenRequests = () => wecom.requests("gettoken").length;

describe("appRecipients", () => {
  it.each([
    ["users joined by |", { to_user: ["zhangsan", "lisi"] }, { touser: "zhangsan|lisi" }],
    ["repeated ids once", { to_user: ["zhangsan", "lisi", "zhangsan"] }, { touser: "zhangsan|lisi" }],
    ["parties and tags", { to_party: ["2", "3"], to_tag: ["7"] }, { toparty: "2|3", totag: "7" }],
    ["all three lists", { to_user: ["u"], to_party: ["2"], to_tag: ["7"] }, { touser: "u", toparty: "2", totag: "7" }],
    ["@all users", { to_user: "@all" }, { touser: "@all" }],
    // WeCom spells "everyone" only as touser, and ignores parties and tags beside it.
    ["@all parties as everyone", { to_party: "@all", to_tag: ["7"] }, { touser: "@all" }],
  ] as const)("maps %s", (_label, config, expected) => {
    expect(appRecipients(config as Parameters<typeof appRecipients>[0])).toEqual(expected);
  });

  it.each([
    ["no recipients", {}, "app target needs to_user, to_party or to_tag"],
    ["an id with |", { to_user: ["a|b"] }, 'recipient ids may not contain "|" (touser)'],
  ])("refuses %s", (_label, config, error) => {
    expect(() => appRecipients(config)).toThrow(error);
  });
});

describe("textcardMessage", () => {
  const card = { title: "[FIRING] HighLatency", description: "p99 over 2 s on api", url: "https://grafana.example/d/api" };

  it("builds a textcard message part", () => {
    expect(textcardMessage({ ...card, btntxt: "查看" })).toEqual({ msgtype: "textcard", textcard: { ...card, btntxt: "查看" } });
  });

  it.each([
    ["a title over 128 bytes", { title: "告".repeat(43) }, /title/],
    ["a description over 512 bytes", { description: "x".repeat(513) }, /description/],
    ["a url without scheme", { url: "grafana.example/d/api" }, /url/],
    ["a button over 4 characters", { btntxt: "More info" }, /btntxt/],
  ])("refuses %s instead of letting WeCom cut it", (_label, change, field) => {
    expect(() => textcardMessage({ ...card, ...change })).toThrow(field);
  });
});

describe("createAppChannel", () => {
  it("names the target when it has no recipients", () => {
    expect(() => app({ target: { to_user: undefined } })).toThrow('target "ops-app": app target needs to_user, to_party or to_tag');
  });

  it("is an app channel", () => {
    expect(app().kind).toBe("app");
  });
});

describe("app channel send", () => {
  it("delivers a text message to the target's users with the agent id", async () => {
    const result = await app().send(message());

    expect(result).toEqual({ kind: "ok" });
    const [sent] = wecom.appMessages();
    expect(sent).toMatchObject({ msgtype: "text", content: "[FIRING] HighLatency on api", touser: ["zhangsan", "lisi"], agentId: 1000002 });
    expect(sent?.body).toEqual({
      touser: "zhangsan|lisi",
      agentid: 1000002,
      msgtype: "text",
      text: { content: "[FIRING] HighLatency on api" },
    });
  });

  it("delivers markdown as markdown", async () => {
    const content = "### [FIRING] HighLatency\n> <font color=\"warning\">p99 2.3 s</font>";
    expect(await app().send(message({ msgtype: "markdown", content }))).toEqual({ kind: "ok" });
    expect(wecom.appMessages()[0]).toMatchObject({ msgtype: "markdown", content });
  });

  it.each([
    ["@all", { to_user: "@all" as const }, { touser: ["@all"], toparty: [], totag: [] }],
    ["parties and tags", { to_user: undefined, to_party: ["2", "3"], to_tag: ["7"] }, { touser: [], toparty: ["2", "3"], totag: ["7"] }],
  ])("sends to %s", async (_label, target, recipients) => {
    expect(await app({ target }).send(message())).toEqual({ kind: "ok" });
    expect(wecom.appMessages()[0]).toMatchObject(recipients);
  });

  it("makes exactly one gettoken call for 40 concurrent sends on a cold cache", async () => {
    const channel = app();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => channel.send(message({ content: `alert ${i}` }))));

    expect(results.every((r) => r.kind === "ok")).toBe(true);
    expect(wecom.appMessages()).toHaveLength(40);
    expect(gettokenRequests()).toBe(1);
  });

  it("shares one token between app targets of the same app", async () => {
    const tokens = new TokenCache();
    await app({ tokens, name: "ops-app" }).send(message());
    await app({ tokens, name: "oncall-app", target: { to_user: ["wangwu"] } }).send(message());

    expect(wecom.appMessages()).toHaveLength(2);
    expect(gettokenRequests()).toBe(1);
  });

  it.each([
    ["expired tokens (42001)", () => wecom.expireTokens(), 42001],
    ["revoked tokens (40014)", () => wecom.revokeTokens(), 40014],
  ])("refreshes once and sends again after %s", async (_label, invalidate, errcode) => {
    const channel = app();
    expect(await channel.send(message({ content: "before" }))).toEqual({ kind: "ok" });
    invalidate();

    expect(await channel.send(message({ content: "after" }))).toEqual({ kind: "ok" });
    expect(wecom.appMessages().map((m) => m.content)).toEqual(["before", "after"]);
    expect(gettokenRequests()).toBe(2);
    expect(wecom.requests("app").map((r) => typeof r.reply === "object" && r.reply.errcode)).toEqual([0, errcode, 0]);
  });

  it.each([40014, 42001, 40001, 41001])("treats errcode %i from message/send as a rejected token", async (errcode) => {
    wecom.failNext(1, { errcode }, "app");
    expect(await app().send(message())).toEqual({ kind: "ok" });
    expect(gettokenRequests()).toBe(2);
    expect(wecom.appMessages()).toHaveLength(1);
  });

  it("gives up after one fresh token is rejected too, and fetches another next time", async () => {
    const channel = app();
    wecom.failNext(2, { errcode: 42001 }, "app");
    const result = await channel.send(message());

    expect(result).toMatchObject({ kind: "refreshToken", errcode: 42001 });
    expect(wecom.requests("app")).toHaveLength(2);
    expect(await channel.send(message())).toEqual({ kind: "ok" });
    expect(gettokenRequests()).toBe(3);
  });

  it("reports a wrong secret as permanent with a clear error that does not contain the secret", async () => {
    const secret = "wrong-secret-3f9a7c";
    const result = await app({ target: { secret } }).send(message());

    expect(result).toMatchObject({ kind: "permanent", errcode: 40001 });
    expect(result.kind !== "ok" && result.error).toContain(`invalid corp secret for corp ${DEFAULT_FAKE_APP.corpId}`);
    expect(JSON.stringify(result)).not.toContain(secret);
    expect(wecom.requests("app")).toHaveLength(0);
  });

  it("fails fast, without another gettoken call, while a failed fetch backs off", async () => {
    wecom.failNext(1, { httpStatus: 503 }, "gettoken");
    const channel = app();
    const first = await channel.send(message());
    const second = await channel.send(message());

    expect(first).toMatchObject({ kind: "retry" });
    expect(second).toMatchObject({ kind: "retry", afterMs: expect.any(Number) });
    expect(gettokenRequests()).toBe(1);
  });

  it("delivers, warns and reports when WeCom names invalid users", async () => {
    const logs = captureLogs("warn");
    const reports: InvalidRecipients[] = [];
    try {
      const result = await app({ target: { to_user: ["zhangsan", "Ghost"] }, onInvalidRecipients: (r) => reports.push(r) }).send(
        message(),
      );
      expect(result).toEqual({ kind: "ok" });
    } finally {
      logs.stop();
    }

    expect(reports).toEqual([{ target: "ops-app", users: ["ghost"], parties: [], tags: [] }]);
    const warning = logs.lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((l) => l.level === "warn");
    expect(warning).toMatchObject({ target: "ops-app", invalid_users: ["ghost"] });
  });

  it("reports every recipient invalid (81013) as permanent", async () => {
    const result = await app({ target: { to_user: ["ghost"] } }).send(message());
    expect(result).toMatchObject({ kind: "permanent", errcode: 81013 });
  });

  it("passes on the operator hint for an untrusted IP (60020)", async () => {
    wecom.failNext(1, { errcode: 60020, errmsg: "not allow to access from your ip, hint: [x], from ip: 1.2.3.4" }, "app");
    const result = await app().send(message());
    expect(result).toMatchObject({ kind: "permanent", errcode: 60020, error: expect.stringContaining("企业可信IP") });
  });

  it.each(["text", "markdown"] as const)("never sends %s content over 2048 bytes", async (msgtype) => {
    const result = await app().send(message({ msgtype, content: "告".repeat(683) }));

    expect(result).toEqual({
      kind: "permanent",
      error: `${msgtype} content is 2049 bytes, over the 2048-byte limit of app messages; not sent`,
      class: "not_sent",
    });
    expect(wecom.requests()).toHaveLength(0);
  });

  it("sends content of exactly 2048 bytes", async () => {
    expect(await app().send(message({ msgtype: "markdown", content: "x".repeat(2048) }))).toEqual({ kind: "ok" });
  });

  it("keeps every access_token out of send results and log lines", async () => {
    const logs = captureLogs("debug");
    const results: SendResult[] = [];
    try {
      const channel = app();
      results.push(await channel.send(message()));
      const [token] = wecom.issuedTokens();
      // An errmsg that echoes the token, in both bare and query-parameter form.
      wecom.failNext(1, { errcode: 40099, errmsg: `bad token ${token} (access_token=${token})` }, "app");
      results.push(await channel.send(message()));
      wecom.expireTokens();
      results.push(await channel.send(message()));
      wecom.failNext(1, { httpStatus: 500, body: `upstream failed for access_token=${token}` }, "app");
      results.push(await channel.send(message()));
      wecom.failNext(2, { errcode: 42001 }, "app");
      results.push(await channel.send(message()));
    } finally {
      logs.stop();
    }

    expect(results.map((r) => r.kind)).toEqual(["ok", "permanent", "ok", "retry", "refreshToken"]);
    const tokens = wecom.issuedTokens();
    expect(tokens.length).toBeGreaterThanOrEqual(3);
    expect(logs.lines.length).toBeGreaterThan(0);
    const written = JSON.stringify(results) + "\n" + logs.lines.join("\n");
    for (const token of tokens) expect(written).not.toContain(token);
  });
});

describe("app channel under token churn", () => {
  it("delivers 30 messages over ~5 s of simulated time while tokens live 2 s, with few gettoken calls", async () => {
    // One simulated clock for WeCom's token expiry and the cache's refresh: no real sleeps.
    let now = 1_000_000;
    const clock = () => now;
    const churn = await startFakeWeCom({ tokenTtlMs: 2000, now: clock });
    try {
      // Refresh margin scaled to the 2 s lifetime (in production: 5 min of 2 h).
      const channel = app({ apiBase: churn.url, tokens: new TokenCache({ refreshMarginMs: 200, now: clock }) });
      const results: SendResult[] = [];
      for (let i = 0; i < 30; i += 1) {
        results.push(await channel.send(message({ content: `alert ${i}` })));
        now += 165;
      }

      expect(results.filter((r) => r.kind !== "ok")).toEqual([]);
      expect(churn.appMessages()).toHaveLength(30);
      expect(churn.requests("gettoken").length).toBeGreaterThanOrEqual(2);
      expect(churn.requests("gettoken").length).toBeLessThanOrEqual(5);
    } finally {
      await churn.close();
    }
  });
});
