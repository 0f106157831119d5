// The fake WeCom server is what every integration test trusts; these pin its behaviour.
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeWeCom, type FakeWeComOptions } from "../../support/fake-wecom.js";

let wecom: FakeWeCom | undefined;
let clock = 1_700_000_000_000;

async function start(opts: FakeWeComOptions = {}): Promise<FakeWeCom> {
  clock = 1_700_000_000_000;
  wecom = await startFakeWeCom({ now: () => clock, ...opts });
  return wecom;
}

afterEach(async () => {
  await wecom?.close();
  wecom = undefined;
});

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function get(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url)).json()) as Record<string, unknown>;
}

const text = (content: string) => ({ msgtype: "text", text: { content } });
const markdown = (content: string) => ({ msgtype: "markdown", markdown: { content } });

describe("fake WeCom group robot", () => {
  it("accepts a text message with HTTP 200 errcode 0 and records it with its receive time", async () => {
    const fake = await start();

    const reply = await post(fake.robotWebhook("k1"), { msgtype: "text", text: { content: "hi", mentioned_list: ["@all"] } });

    expect(reply).toEqual({ status: 200, json: { errcode: 0, errmsg: "ok" } });
    expect(fake.robotMessages("k1")).toEqual([
      expect.objectContaining({ key: "k1", msgtype: "text", content: "hi", mentionedList: ["@all"], receivedAt: clock }),
    ]);
    expect(fake.robotMessages("other")).toEqual([]);
  });

  it.each([
    ["text at 2048 bytes", text("a".repeat(2048)), 0],
    ["text at 2049 bytes", text("a".repeat(2049)), 40058],
    ["text of multi-byte characters over 2048 bytes", text("警".repeat(683)), 40058],
    ["markdown at 4096 bytes", markdown("a".repeat(4096)), 0],
    ["markdown at 4097 bytes", markdown("a".repeat(4097)), 40058],
    ["markdown_v2 at 4097 bytes", { msgtype: "markdown_v2", markdown_v2: { content: "a".repeat(4097) } }, 40058],
    ["empty text", text(""), 44004],
    ["text without its object", { msgtype: "text" }, 44004],
    ["a mentioned_list that is not a string array", { msgtype: "text", text: { content: "x", mentioned_list: "a" } }, 40058],
    ["an unknown msgtype", { msgtype: "video", video: {} }, 40008],
    ["a missing msgtype", { text: { content: "x" } }, 40008],
    ["a news message with its object", { msgtype: "news", news: { articles: [] } }, 0],
    ["a body that is not JSON", "{not json", 47001],
    ["a JSON array body", "[]", 47001],
  ])("answers %s with errcode %i", async (_label, body, errcode) => {
    const fake = await start();

    const reply = await post(fake.robotWebhook("k1"), body);

    expect(reply.status).toBe(200);
    expect(reply.json.errcode).toBe(errcode);
    expect(fake.robotMessages()).toHaveLength(errcode === 0 ? 1 : 0);
  });

  it("gives errors WeCom's errmsg shape with a hint tail", async () => {
    const fake = await start();

    const reply = await post(fake.robotWebhook("k1"), text("a".repeat(2049)));

    expect(reply.json.errmsg).toMatch(/^text\.content exceed max length 2048, hint: \[.+\], from ip: .+, more info at /);
  });

  it("answers 93000 for a key outside the configured robots, and for no key", async () => {
    const fake = await start({ robotKeys: ["known"] });

    expect((await post(fake.robotWebhook("known"), text("x"))).json.errcode).toBe(0);
    expect((await post(fake.robotWebhook("unknown"), text("x"))).json.errcode).toBe(93000);
    expect((await post(`${fake.url}/cgi-bin/webhook/send`, text("x"))).json.errcode).toBe(93000);
  });

  it("answers 43002 to a GET on the robot webhook", async () => {
    const fake = await start();

    expect((await get(fake.robotWebhook("k1"))).errcode).toBe(43002);
  });

  it("rejects the 21st message in a minute with 45009 and does not record it", async () => {
    const fake = await start();
    const codes: unknown[] = [];

    for (let i = 1; i <= 21; i++) {
      codes.push((await post(fake.robotWebhook("k1"), text(`m${i}`))).json.errcode);
      clock += 1000;
    }

    expect(codes.slice(0, 20)).toEqual(Array(20).fill(0));
    expect(codes[20]).toBe(45009);
    expect(fake.robotMessages("k1").map((m) => m.content)).not.toContain("m21");
    expect(fake.robotMessages("k1")).toHaveLength(20);
  });

  it("limits each key on its own", async () => {
    const fake = await start({ robotRateLimit: { max: 1, perMs: 1000 } });

    expect((await post(fake.robotWebhook("a"), text("x"))).json.errcode).toBe(0);
    expect((await post(fake.robotWebhook("b"), text("x"))).json.errcode).toBe(0);
    expect((await post(fake.robotWebhook("a"), text("x"))).json.errcode).toBe(45009);
  });

  it("slides the window: a slot frees up once its oldest message is perMs old", async () => {
    const fake = await start();
    fake.setRobotRateLimit(2, 1000);

    await post(fake.robotWebhook("k1"), text("1"));
    clock += 600;
    await post(fake.robotWebhook("k1"), text("2"));
    clock += 399;
    const stillBlocked = (await post(fake.robotWebhook("k1"), text("3"))).json.errcode;
    clock += 1;
    const freed = (await post(fake.robotWebhook("k1"), text("4"))).json.errcode;

    expect([stillBlocked, freed]).toEqual([45009, 0]);
  });

  it("resolves waitForRobotMessages once enough messages arrived", async () => {
    const fake = await start();
    const waiting = fake.waitForRobotMessages(2, { key: "k1", timeoutMs: 2000 });

    await post(fake.robotWebhook("k1"), text("one"));
    await post(fake.robotWebhook("k2"), text("elsewhere"));
    await post(fake.robotWebhook("k1"), text("two"));

    expect((await waiting).map((m) => m.content)).toEqual(["one", "two"]);
  });

  it("rejects waitForRobotMessages after its timeout, saying what went wrong", async () => {
    const fake = await start({ robotRateLimit: { max: 1, perMs: 60_000 } });
    await post(fake.robotWebhook("k1"), text("one"));
    await post(fake.robotWebhook("k1"), text("two"));

    await expect(fake.waitForRobotMessages(2, { timeoutMs: 50 })).rejects.toThrow(
      "fake WeCom: expected 2 robot messages within 50 ms, got 1; unsuccessful replies: 200/45009",
    );
  });
});

describe("fake WeCom fault injection", () => {
  it("answers the next n requests with the injected errcode, then goes back to normal", async () => {
    const fake = await start();
    fake.failNext(2, { errcode: -1, errmsg: "system busy" });

    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await post(fake.robotWebhook("k1"), text("x"))).json);

    expect(codes).toEqual([{ errcode: -1, errmsg: "system busy" }, { errcode: -1, errmsg: "system busy" }, { errcode: 0, errmsg: "ok" }]);
    expect(fake.robotMessages()).toHaveLength(1);
    expect(fake.requests("robot").map((r) => r.injected)).toEqual([true, true, false]);
  });

  it("applies a fault scoped to one endpoint kind only to that kind", async () => {
    const fake = await start();
    fake.failNext(1, { errcode: 45033 }, "gettoken");

    expect((await post(fake.robotWebhook("k1"), text("x"))).json.errcode).toBe(0);
    const token = await get(`${fake.url}/cgi-bin/gettoken?corpid=${DEFAULT_FAKE_APP.corpId}&corpsecret=${DEFAULT_FAKE_APP.secret}`);
    expect(token.errcode).toBe(45033);
  });

  it("queues faults in the order given", async () => {
    const fake = await start();
    fake.failNext(1, { errcode: -1 });
    fake.failNext(1, { httpStatus: 502 });

    const first = await fetch(fake.robotWebhook("k1"), { method: "POST", body: JSON.stringify(text("x")) });
    const second = await fetch(fake.robotWebhook("k1"), { method: "POST", body: JSON.stringify(text("x")) });

    expect([first.status, ((await first.json()) as { errcode: number }).errcode]).toEqual([200, -1]);
    expect([second.status, second.headers.get("content-type")]).toEqual([502, "text/html"]);
    await second.text();
  });

  it("resets the connection on 'reset'", async () => {
    const fake = await start();
    fake.failNext(1, "reset");

    await expect(fetch(fake.robotWebhook("k1"), { method: "POST", body: "{}" })).rejects.toThrow("fetch failed");
    expect(fake.requests()[0]?.reply).toBe("reset");
  });

  it("never answers on 'hang'", async () => {
    const fake = await start();
    fake.failNext(1, "hang");

    const controller = new AbortController();
    const hung = fetch(fake.robotWebhook("k1"), { method: "POST", body: "{}", signal: controller.signal });
    // Give up only once the fake holds the request: a busy machine must not abort it earlier.
    while (fake.requests().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();

    await expect(hung).rejects.toThrow(/abort/i);
    expect(fake.requests()[0]?.reply).toBe("hang");
  });

  it("drops a hung connection on close()", async () => {
    const fake = await start();
    fake.failNext(1, "hang");
    const hung = fetch(fake.robotWebhook("k1"), { method: "POST", body: "{}" });
    while (fake.requests().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    await fake.close();

    await expect(hung).rejects.toThrow("fetch failed");
  });

  it("still delivers a delayed message whose sender gave up waiting", async () => {
    const fake = await start();
    fake.failNext(1, { delayMs: 300 });

    const controller = new AbortController();
    const gaveUp = fetch(fake.robotWebhook("k1"), {
      method: "POST",
      body: JSON.stringify(text("slow")),
      signal: controller.signal,
    });
    // Give up once the fake has the request but before its delay ends.
    while (fake.requests().length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();

    await expect(gaveUp).rejects.toThrow(/abort/i);
    expect((await fake.waitForRobotMessages(1, { timeoutMs: 2000 }))[0]?.content).toBe("slow");
    expect(fake.requests()[0]?.reply).toEqual({ httpStatus: 200, errcode: 0 });
  });

  it("handles the request normally after an injected delay", async () => {
    const fake = await start();
    fake.failNext(1, { delayMs: 80 });

    const started = Date.now();
    const reply = await post(fake.robotWebhook("k1"), text("late"));

    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(reply.json.errcode).toBe(0);
    expect(fake.robotMessages()[0]?.content).toBe("late");
  });

  it("rejects a count that is not a positive integer", async () => {
    const fake = await start();

    expect(() => fake.failNext(0, "reset")).toThrow("positive count");
  });

  it("answers an unknown path with HTTP 404", async () => {
    const fake = await start();

    const reply = await post(`${fake.url}/cgi-bin/nothing`, {});

    expect(reply.status).toBe(404);
    expect(fake.requests("other")).toHaveLength(1);
  });

  it("forgets everything on reset()", async () => {
    const fake = await start();
    await post(fake.robotWebhook("k1"), text("x"));
    await get(`${fake.url}/cgi-bin/gettoken?corpid=a&corpsecret=b`);
    fake.failNext(1, "reset");

    fake.reset();

    expect([fake.robotMessages().length, fake.requests().length, fake.gettokenCalls]).toEqual([0, 0, 0]);
    expect((await post(fake.robotWebhook("k1"), text("x"))).json.errcode).toBe(0);
  });
});

describe("fake WeCom app API", () => {
  const app = { corpId: "ww-corp", secret: "s3cret", agentId: 1000005 };
  const tokenUrl = (fake: FakeWeCom, corpId = app.corpId, secret = app.secret) =>
    `${fake.url}/cgi-bin/gettoken?corpid=${corpId}&corpsecret=${secret}`;

  async function token(fake: FakeWeCom): Promise<string> {
    const reply = await get(tokenUrl(fake));
    return reply.access_token as string;
  }

  const sendUrl = (fake: FakeWeCom, accessToken: string) => `${fake.url}/cgi-bin/message/send?access_token=${accessToken}`;
  const appText = (overrides: Record<string, unknown> = {}) => ({
    touser: "zhangsan|lisi",
    msgtype: "text",
    agentid: app.agentId,
    text: { content: "hello" },
    ...overrides,
  });

  it("issues a token with expires_in in seconds and counts gettoken calls", async () => {
    const fake = await start({ apps: [app], tokenTtlMs: 90_500 });

    const reply = await get(tokenUrl(fake));

    expect(reply).toMatchObject({ errcode: 0, errmsg: "ok", expires_in: 90, access_token: expect.any(String) });
    expect(fake.gettokenCalls).toBe(1);
  });

  it.each([
    ["a wrong secret", app.corpId, "nope", 40001],
    ["an unknown corp", "ww-other", app.secret, 40013],
    ["no corp", "", app.secret, 41002],
    ["no secret", app.corpId, "", 41004],
  ])("refuses a token for %s with errcode %i", async (_label, corpId, secret, errcode) => {
    const fake = await start({ apps: [app] });

    expect((await get(tokenUrl(fake, corpId, secret))).errcode).toBe(errcode);
    expect(fake.gettokenCalls).toBe(1);
  });

  it("knows DEFAULT_FAKE_APP when no apps are configured", async () => {
    const fake = await start();

    expect((await get(tokenUrl(fake, DEFAULT_FAKE_APP.corpId, DEFAULT_FAKE_APP.secret))).errcode).toBe(0);
  });

  it("records an accepted message and answers with a msgid", async () => {
    const fake = await start({ apps: [app] });

    const reply = await post(sendUrl(fake, await token(fake)), appText());

    expect(reply.json).toEqual({ errcode: 0, errmsg: "ok", msgid: expect.any(String) });
    expect(fake.appMessages()).toEqual([
      expect.objectContaining({
        corpId: "ww-corp",
        agentId: 1000005,
        msgtype: "text",
        content: "hello",
        touser: ["zhangsan", "lisi"],
        msgid: reply.json.msgid,
      }),
    ]);
  });

  it("reports unknown users in invaliduser, lower-cased, and still delivers", async () => {
    const fake = await start({ apps: [app], unknownUsers: ["Ghost"] });

    const reply = await post(sendUrl(fake, await token(fake)), appText({ touser: "zhangsan|GHOST" }));

    expect(reply.json).toMatchObject({ errcode: 0, invaliduser: "ghost" });
    expect(fake.appMessages()[0]?.invalidUsers).toEqual(["ghost"]);
  });

  it.each([
    ["every recipient unknown", appText({ touser: "ghost" }), 81013],
    ["no recipients", appText({ touser: undefined }), 82001],
    ["another app's agentid", appText({ agentid: 1 }), 301002],
    ["no agentid", appText({ agentid: undefined }), 40056],
    ["markdown over 2048 bytes", appText({ msgtype: "markdown", markdown: { content: "a".repeat(2049) } }), 40058],
    ["text over 2048 bytes", appText({ text: { content: "a".repeat(2049) } }), 40058],
    ["an unknown msgtype", appText({ msgtype: "hologram" }), 40008],
  ])("refuses a message with %s (errcode %i)", async (_label, body, errcode) => {
    const fake = await start({ apps: [app], unknownUsers: ["ghost"] });

    expect((await post(sendUrl(fake, await token(fake)), body)).json.errcode).toBe(errcode);
    expect(fake.appMessages()).toHaveLength(0);
  });

  it("accepts markdown at exactly 2048 bytes", async () => {
    const fake = await start({ apps: [app] });

    const body = appText({ msgtype: "markdown", markdown: { content: "a".repeat(2048) } });

    expect((await post(sendUrl(fake, await token(fake)), body)).json.errcode).toBe(0);
  });

  it.each([
    ["no token", () => "", 41001],
    ["a token it never issued", () => "made-up", 40014],
  ])("rejects a send with %s", async (_label, makeToken, errcode) => {
    const fake = await start({ apps: [app] });

    expect((await post(sendUrl(fake, makeToken()), appText())).json.errcode).toBe(errcode);
  });

  it("expires a token after tokenTtlMs", async () => {
    const fake = await start({ apps: [app], tokenTtlMs: 1000 });
    const accessToken = await token(fake);

    clock += 999;
    const before = (await post(sendUrl(fake, accessToken), appText())).json.errcode;
    clock += 1;
    const after = (await post(sendUrl(fake, accessToken), appText())).json.errcode;

    expect([before, after]).toEqual([0, 42001]);
  });

  it("answers 42001 after expireTokens() and 40014 after revokeTokens(); a new token works again", async () => {
    const fake = await start({ apps: [app] });
    const first = await token(fake);

    fake.expireTokens();
    const expired = (await post(sendUrl(fake, first), appText())).json.errcode;
    fake.revokeTokens();
    const revoked = (await post(sendUrl(fake, first), appText())).json.errcode;
    const fresh = (await post(sendUrl(fake, await token(fake)), appText())).json.errcode;

    expect([expired, revoked, fresh]).toEqual([42001, 40014, 0]);
    expect(fake.gettokenCalls).toBe(2);
  });

  it("resolves waitForAppMessages once a message arrived", async () => {
    const fake = await start({ apps: [app] });
    const waiting = fake.waitForAppMessages(1, { timeoutMs: 2000 });

    await post(sendUrl(fake, await token(fake)), appText());

    expect(await waiting).toHaveLength(1);
  });
});
