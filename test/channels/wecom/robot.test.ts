import nock from "nock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRobotChannel } from "../../../src/channels/wecom/robot.js";
import { robotKey } from "../../../src/config/robot-webhook.js";
import type { Message, SendResult } from "../../../src/types.js";
import { startFakeWeCom, type FakeWeCom } from "../../support/fake-wecom.js";
import { message as baseMessage } from "../../support/messages.js";

const KEY = "693a91f6-7a4b-4c2d-9e3f-5d8c0a1b2c3d";

const message = (overrides: Partial<Message> = {}): Message =>
  baseMessage({ target: "sre-robot", msgtype: "text", content: "[FIRING] HighLatency on api", ...overrides });

let wecom: FakeWeCom;

beforeAll(async () => {
  wecom = await startFakeWeCom({ robotKeys: [KEY] });
});
afterAll(async () => {
  await wecom.close();
});
beforeEach(() => {
  wecom.reset();
});

function robot(webhook = KEY, timeoutMs = 2000) {
  return createRobotChannel({ name: "sre-robot", webhook, apiBase: wecom.url, timeoutMs });
}

describe("robotKey", () => {
  it.each([
    ["a bare key", KEY],
    ["a bare key with spaces around it", `  ${KEY}\n`],
    ["the full webhook URL", `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}`],
    ["a URL with other parameters", `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?debug=1&key=${KEY}`],
  ])("extracts the key from %s", (_label, webhook) => {
    expect(robotKey(webhook)).toBe(KEY);
  });

  it.each([
    ["a URL without key", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?token=SECRETPART", /no key= parameter/],
    ["a URL with an empty key", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=", /no key= parameter/],
    ["something that is neither", "send?key=SECRETPART oops", /webhook URL with key=\.\.\. or the bare key/],
    ["an empty value", "   ", /webhook URL with key=\.\.\. or the bare key/],
  ])("rejects %s without repeating it", (_label, webhook, reason) => {
    expect(() => robotKey(webhook)).toThrow(reason);
    expect(() => robotKey(webhook)).not.toThrow(/SECRETPART/);
  });
});

describe("createRobotChannel", () => {
  it("names the target when the webhook is unusable", () => {
    expect(() =>
      createRobotChannel({ name: "sre-robot", webhook: "https://x/send?k=1", apiBase: wecom.url, timeoutMs: 1000 }),
    ).toThrow('target "sre-robot": robot webhook URL has no key= parameter');
  });

  it("is a robot channel", () => {
    expect(robot().kind).toBe("robot");
  });
});

describe("robot channel send", () => {
  it("delivers a text message with its mentions", async () => {
    const result = await robot().send(message({ mention: ["zhangsan", "@all"] }));

    expect(result).toEqual({ kind: "ok" });
    const [sent] = wecom.robotMessages(KEY);
    expect(sent).toMatchObject({ msgtype: "text", content: "[FIRING] HighLatency on api", mentionedList: ["zhangsan", "@all"] });
  });

  it("leaves mentioned_list out of a text message without mentions", async () => {
    await robot().send(message());

    expect(wecom.robotMessages(KEY)[0]?.body).toEqual({ msgtype: "text", text: { content: "[FIRING] HighLatency on api" } });
  });

  it("delivers a markdown message as it is", async () => {
    const content = "## 告警 <font color=\"warning\">HighLatency</font>\n> prod / api <@zhangsan>";

    const result = await robot().send(message({ msgtype: "markdown", content, mention: ["zhangsan"] }));

    expect(result).toEqual({ kind: "ok" });
    expect(wecom.robotMessages(KEY)[0]?.body).toEqual({ msgtype: "markdown", markdown: { content } });
  });

  it("sends a bare key to api_base", async () => {
    expect(await robot(KEY).send(message())).toEqual({ kind: "ok" });
    expect(wecom.robotMessages(KEY)).toHaveLength(1);
  });

  it("sends a full webhook URL as written, host included, whatever api_base says", async () => {
    const channel = createRobotChannel({ name: "r", webhook: wecom.robotWebhook(KEY), apiBase: "http://192.0.2.1:9", timeoutMs: 1000 });

    expect(await channel.send(message())).toEqual({ kind: "ok" });
    expect(wecom.robotMessages(KEY)).toHaveLength(1);
  });

  it("names the host of a full webhook URL that cannot be reached, never its key", async () => {
    const channel = createRobotChannel({ name: "r", webhook: `http://127.0.0.1:9/cgi-bin/webhook/send?key=${KEY}`, apiBase: wecom.url, timeoutMs: 1000 });

    const result = await channel.send(message());

    expect(result).toMatchObject({ kind: "retry", error: expect.stringContaining("(127.0.0.1:9)") });
    expect(JSON.stringify(result)).not.toContain(KEY);
    expect(wecom.robotMessages()).toHaveLength(0);
  });

  it("keeps a path prefix of api_base and ignores its trailing slash", async () => {
    const channel = createRobotChannel({ name: "r", webhook: KEY, apiBase: `${wecom.url}/prefix/`, timeoutMs: 1000 });

    await channel.send(message());

    expect(wecom.requests()[0]?.pathname).toBe("/prefix/cgi-bin/webhook/send");
  });

  it("gets errcode 93000 as a permanent failure for a key WeCom does not know", async () => {
    const result = await robot("0000-unknown-robot").send(message());

    expect(result).toMatchObject({ kind: "permanent", errcode: 93000 });
  });

  it("gets errcode 40058 as a permanent failure for text over 2048 bytes", async () => {
    const result = await robot().send(message({ content: "告".repeat(683) })); // 2049 bytes

    expect(result).toMatchObject({ kind: "permanent", errcode: 40058 });
  });

  it.each([
    ["HTTP 502", { httpStatus: 502 }, /^HTTP 502/],
    ["HTTP 503 with a JSON body", { httpStatus: 503, body: '{"errcode":0}', contentType: "application/json" }, /^HTTP 503/],
    ["a non-JSON 200 answer", { httpStatus: 200, body: `<html>proxy error for /send?key=${KEY}</html>` }, /not JSON/],
    ["a connection reset", "reset" as const, /^network error: /],
    ["a JSON answer without errcode", { httpStatus: 200, body: '{"ok":true}', contentType: "application/json" }, /no numeric errcode/],
  ])("retries after %s", async (_label, fault, error) => {
    wecom.failNext(1, fault, "robot");

    const result = await robot().send(message());

    expect(result).toMatchObject({ kind: "retry", error: expect.stringMatching(error) });
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it("retries when WeCom does not answer within the timeout", async () => {
    wecom.failNext(1, "hang", "robot");

    const started = Date.now();
    const result = await robot(KEY, 150).send(message());

    expect(result).toEqual({ kind: "retry", error: `request to ${new URL(wecom.url).host} timed out after 150 ms`, class: "timeout" });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("retries when nothing listens at api_base", async () => {
    const closed = await startFakeWeCom();
    await closed.close();
    const channel = createRobotChannel({ name: "r", webhook: KEY, apiBase: closed.url, timeoutMs: 1000 });

    // The host is named (a wrong proxy is the usual cause); the key never is.
    expect(await channel.send(message())).toEqual({ kind: "retry", error: `network error: ECONNREFUSED (${new URL(closed.url).host})`, class: "network" });
  });

  it("never puts the robot key into an error text", async () => {
    const faults = [
      { errcode: 93000 },
      { errcode: 77777, errmsg: `bad key=${KEY}, hint: [x]` },
      { httpStatus: 500, body: `upstream /cgi-bin/webhook/send?key=${KEY} failed` },
      { httpStatus: 403 },
      "reset" as const,
    ];
    for (const fault of faults) wecom.failNext(1, fault, "robot");

    const results: SendResult[] = [];
    for (const _ of faults) results.push(await robot(wecom.robotWebhook(KEY)).send(message()));

    expect(results.map((r) => r.kind)).toEqual(["permanent", "permanent", "retry", "permanent", "retry"]);
    for (const result of results) expect(JSON.stringify(result)).not.toContain(KEY);
  });
});

// One exchange with WeCom: what each kind of answer becomes. A nock scope states the
// answer directly; the fake WeCom above covers the behaviour of whole conversations.
describe("robot channel: one answer, classified", () => {
  const API = "https://wecom.test";
  const channel = () => createRobotChannel({ name: "sre-robot", webhook: KEY, apiBase: API, timeoutMs: 2000 });
  const answer = () => nock(API).post("/cgi-bin/webhook/send").query({ key: KEY });

  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(() => {
    expect(nock.isDone()).toBe(true);
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });

  it.each<{ errcode: number; expected: Partial<SendResult> }>([
    { errcode: 45009, expected: { kind: "retry", errcode: 45009, afterMs: 60_000 } },
    { errcode: -1, expected: { kind: "retry", errcode: -1 } },
    { errcode: 93000, expected: { kind: "permanent", errcode: 93000 } },
    { errcode: 40058, expected: { kind: "permanent", errcode: 40058 } },
    // A robot has no token to refresh, so token complaints cannot heal.
    { errcode: 40014, expected: { kind: "permanent", errcode: 40014 } },
  ])("turns an HTTP 200 reply with errcode $errcode into $expected.kind", async ({ errcode, expected }) => {
    answer().reply(200, { errcode, errmsg: "from WeCom, hint: [x]" });

    const result = await channel().send(message());

    expect(result).toMatchObject({ ...expected, error: expect.stringMatching(new RegExp(`^errcode ${errcode}: `)) });
  });

  it("retries HTTP 429 no sooner than Retry-After says", async () => {
    answer().reply(429, "slow down", { "Retry-After": "7" });

    expect(await channel().send(message())).toMatchObject({ kind: "retry", afterMs: 7000 });
  });

  it("fails permanently on HTTP 404", async () => {
    answer().reply(404, "not found");

    expect(await channel().send(message())).toMatchObject({ kind: "permanent", error: expect.stringMatching(/^HTTP 404/) });
  });

  it("sends exactly the JSON body WeCom documents", async () => {
    answer()
      .matchHeader("content-type", /^application\/json/)
      .reply(200, (_uri, body) => {
        expect(body).toEqual({ msgtype: "text", text: { content: "[FIRING] HighLatency on api", mentioned_list: ["@all"] } });
        return { errcode: 0, errmsg: "ok" };
      });

    expect(await channel().send(message({ mention: ["@all"] }))).toEqual({ kind: "ok" });
  });
});
