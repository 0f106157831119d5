// The fake WeCom's template cards: message/send checks of button_interaction cards, the
// response_code they answer, and message/update_template_card.
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_FAKE_APP, startFakeWeCom, type FakeApp, type FakeWeCom, type FakeWeComOptions } from "../../support/fake-wecom.js";

const HOUR = 3600 * 1000;
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

type Json = Record<string, unknown>;

async function post(url: string, body: unknown): Promise<Json> {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as Json;
}

async function tokenFor(fake: FakeWeCom, app: FakeApp = DEFAULT_FAKE_APP): Promise<string> {
  const response = await fetch(`${fake.url}/cgi-bin/gettoken?corpid=${app.corpId}&corpsecret=${app.secret}`);
  return ((await response.json()) as { access_token: string }).access_token;
}

function buttonCard(overrides: Json = {}): Json {
  return {
    card_type: "button_interaction",
    main_title: { title: "[FIRING] HighLatency", desc: "prod / api" },
    task_id: "am-7f3c-1718000000",
    button_list: [
      { text: "Ack", style: 1, key: "ack:7f3c" },
      { text: "Silence 1h", style: 2, key: "silence:7f3c:1h" },
    ],
    ...overrides,
  };
}

async function sendCard(fake: FakeWeCom, card: Json, token?: string, agentId = DEFAULT_FAKE_APP.agentId): Promise<Json> {
  const accessToken = token ?? (await tokenFor(fake));
  return post(`${fake.url}/cgi-bin/message/send?access_token=${accessToken}`, {
    touser: "zhangsan",
    msgtype: "template_card",
    agentid: agentId,
    template_card: card,
  });
}

async function update(fake: FakeWeCom, body: Json, token?: string): Promise<Json> {
  const accessToken = token ?? (await tokenFor(fake));
  return post(`${fake.url}/cgi-bin/message/update_template_card?access_token=${accessToken}`, {
    agentid: DEFAULT_FAKE_APP.agentId,
    userids: ["zhangsan"],
    ...body,
  });
}

const greyOut = (responseCode: unknown): Json => ({ response_code: responseCode, button: { replace_name: "Acked" } });

describe("fake WeCom template_card sends", () => {
  it("accepts a button_interaction card and answers a response_code, recorded with its task_id", async () => {
    const fake = await start();

    const reply = await sendCard(fake, buttonCard());

    expect(reply).toMatchObject({ errcode: 0, errmsg: "ok", msgid: expect.any(String), response_code: expect.any(String) });
    const [message] = fake.appMessages();
    expect(message).toMatchObject({ msgtype: "template_card", taskId: "am-7f3c-1718000000", responseCode: reply.response_code });
  });

  it("still accepts notice cards without a task_id, and answers them no response_code", async () => {
    const fake = await start();

    const reply = await sendCard(fake, { card_type: "text_notice", main_title: { title: "x" }, card_action: { type: 1, url: "https://x" } });

    expect(reply.errcode).toBe(0);
    expect(reply).not.toHaveProperty("response_code");
    expect(fake.appMessages()[0]?.responseCode).toBeUndefined();
  });

  it.each([
    ["no task_id", buttonCard({ task_id: undefined }), 42014],
    ["an empty task_id", buttonCard({ task_id: "" }), 42014],
    ["a task_id with a space", buttonCard({ task_id: "am 7f3c" }), 42014],
    ["a task_id of CJK", buttonCard({ task_id: "告警1" }), 42014],
    ["a task_id of 129 bytes", buttonCard({ task_id: "a".repeat(129) }), 42014],
    ["a task_id of 128 bytes", buttonCard({ task_id: "a".repeat(128) }), 0],
    ["an unknown card_type", buttonCard({ card_type: "button_notice" }), 40058],
    ["no main_title.title", buttonCard({ main_title: { desc: "x" } }), 40058],
    ["a title of 37 characters", buttonCard({ main_title: { title: "警".repeat(37) } }), 40058],
    ["a title of 36 emoji", buttonCard({ main_title: { title: "🔴".repeat(36) } }), 0],
    ["a desc of 45 characters", buttonCard({ main_title: { title: "t", desc: "d".repeat(45) } }), 40058],
    ["a sub_title_text of 161 characters", buttonCard({ sub_title_text: "s".repeat(161) }), 40058],
    ["a quote_text of 161 characters", buttonCard({ quote_area: { type: 0, quote_text: "q".repeat(161) } }), 40058],
    ["7 horizontal rows", buttonCard({ horizontal_content_list: Array(7).fill({ keyname: "k", value: "v" }) }), 40058],
    ["a keyname of 6 characters", buttonCard({ horizontal_content_list: [{ keyname: "123456", value: "v" }] }), 40058],
    ["a row value of 31 characters", buttonCard({ horizontal_content_list: [{ keyname: "k", value: "v".repeat(31) }] }), 40058],
    ["a link row without a scheme", buttonCard({ horizontal_content_list: [{ type: 1, keyname: "k", value: "v", url: "x.com" }] }), 45034],
    ["a card_action url without a scheme", buttonCard({ card_action: { type: 1, url: "x.com/a" } }), 45034],
    ["no button_list", buttonCard({ button_list: undefined }), 40058],
    ["an empty button_list", buttonCard({ button_list: [] }), 40058],
    ["7 buttons", buttonCard({ button_list: Array.from({ length: 7 }, (_, i) => ({ text: "b", key: `k${i}` })) }), 40058],
    ["6 buttons", buttonCard({ button_list: Array.from({ length: 6 }, (_, i) => ({ text: "b", key: `k${i}` })) }), 0],
    ["a button without text", buttonCard({ button_list: [{ key: "k" }] }), 42020],
    ["a button text of 11 字", buttonCard({ button_list: [{ text: "字".repeat(11), key: "k" }] }), 40058],
    ["a button text of 21 Latin characters (10.5 字)", buttonCard({ button_list: [{ text: "b".repeat(21), key: "k" }] }), 40058],
    ["a button text of 20 Latin characters (10 字)", buttonCard({ button_list: [{ text: "b".repeat(20), key: "k" }] }), 0],
    ["a callback button without a key", buttonCard({ button_list: [{ text: "b" }] }), 42019],
    ["a key of 1025 bytes", buttonCard({ button_list: [{ text: "b", key: "k".repeat(1025) }] }), 40058],
    ["a key of 1024 bytes", buttonCard({ button_list: [{ text: "b", key: "k".repeat(1024) }] }), 0],
    [
      "a key used twice",
      buttonCard({
        button_list: [
          { text: "a", key: "same" },
          { text: "b", key: "same" },
        ],
      }),
      42018,
    ],
    ["a url button without a key", buttonCard({ button_list: [{ type: 1, text: "open", url: "https://x" }] }), 0],
  ])("answers a card with %s with errcode %i", async (_label, card, errcode) => {
    const fake = await start();

    const reply = await sendCard(fake, card);

    expect(reply.errcode).toBe(errcode);
    expect(fake.appMessages()).toHaveLength(errcode === 0 ? 1 : 0);
  });

  it("names the field in WeCom's errmsg shape", async () => {
    const fake = await start();

    const reply = await sendCard(fake, buttonCard({ main_title: { title: "t".repeat(37) } }));

    expect(reply.errmsg).toMatch(/^template_card\.main_title\.title exceed max length 36, hint: \[/);
  });

  it("refuses a task_id the app already used with 42014, but not another app's", async () => {
    const other: FakeApp = { corpId: "ww-other", secret: "other-secret", agentId: 1000009 };
    const fake = await start({ apps: [DEFAULT_FAKE_APP, other] });

    const first = await sendCard(fake, buttonCard());
    const again = await sendCard(fake, buttonCard({ button_list: [{ text: "x", key: "y" }] }));
    const elsewhere = await sendCard(fake, buttonCard(), await tokenFor(fake, other), other.agentId);

    expect([first.errcode, again.errcode, elsewhere.errcode]).toEqual([0, 42014, 0]);
    expect(again.errmsg).toMatch(/^taskid has existed or empty or exceed max len/);
  });

  it("does not reserve the task_id of a refused card", async () => {
    const fake = await start();

    const refused = await sendCard(fake, buttonCard({ button_list: [] }));
    const retried = await sendCard(fake, buttonCard());

    expect([refused.errcode, retried.errcode]).toEqual([40058, 0]);
  });
});

describe("fake WeCom message/update_template_card", () => {
  it("greys out the button once with the send's response_code, and records the update", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const sent = await sendCard(fake, buttonCard(), token);
    clock += HOUR;

    const reply = await update(fake, greyOut(sent.response_code), token);

    expect(reply).toEqual({ errcode: 0, errmsg: "ok" });
    expect(fake.cardUpdates()).toEqual([
      {
        responseCode: sent.response_code,
        taskId: "am-7f3c-1718000000",
        replaceName: "Acked",
        userids: ["zhangsan"],
        partyids: [],
        tagids: [],
        atall: false,
        body: expect.objectContaining({ response_code: sent.response_code }),
        receivedAt: clock,
      },
    ]);
  });

  it("refuses a second use of the same response_code with 42022", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const { response_code: code } = await sendCard(fake, buttonCard(), token);

    const first = await update(fake, greyOut(code), token);
    const second = await update(fake, { response_code: code, atall: 1, button: { replace_name: "Again" } }, token);

    expect([first.errcode, second.errcode]).toEqual([0, 42022]);
    expect(fake.cardUpdates()).toHaveLength(1);
  });

  it("refuses a response_code 72 h old, and takes one just younger", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const old = await sendCard(fake, buttonCard({ task_id: "old" }), token);
    const young = await sendCard(fake, buttonCard({ task_id: "young" }), token);
    clock += 72 * HOUR - 1;
    // Fresh tokens: the first one expired after 2 h of the fake's clock.
    const youngReply = await update(fake, greyOut(young.response_code), await tokenFor(fake));
    clock += 1;
    const oldReply = await update(fake, greyOut(old.response_code), await tokenFor(fake));

    expect(youngReply.errcode).toBe(0);
    expect(oldReply.errcode).toBe(40058);
    expect(oldReply.errmsg).toMatch(/^response_code expired/);
  });

  it("takes the code of a click, separately from the send's", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const sent = await sendCard(fake, buttonCard(), token);

    const clickCode = fake.clickResponseCode("am-7f3c-1718000000");

    expect(clickCode).not.toBe(sent.response_code);
    expect((await update(fake, greyOut(clickCode), token)).errcode).toBe(0);
    expect((await update(fake, greyOut(sent.response_code), token)).errcode).toBe(0);
    expect(fake.cardUpdates().map((u) => u.taskId)).toEqual(["am-7f3c-1718000000", "am-7f3c-1718000000"]);
    expect(() => fake.clickResponseCode("never-sent")).toThrow(/no interactive card/);
  });

  it("replaces the whole card, checking it like a send but without a task_id", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const { response_code: code } = await sendCard(fake, buttonCard(), token);
    const { task_id: _taskId, ...replacement } = buttonCard({ main_title: { title: "[RESOLVED] HighLatency" } });

    const bad = await update(fake, { response_code: code, template_card: { ...replacement, button_list: [] } }, token);
    const good = await update(fake, { response_code: code, atall: 1, template_card: replacement }, token);

    expect([bad.errcode, good.errcode]).toEqual([40058, 0]);
    expect(fake.cardUpdates()[0]).toMatchObject({ templateCard: replacement, atall: true });
    expect(fake.cardUpdates()[0]).not.toHaveProperty("replaceName");
  });

  it.each([
    ["an unknown response_code", { response_code: "nope", button: { replace_name: "x" } }, 40058],
    ["no response_code", { button: { replace_name: "x" } }, 40058],
    ["neither button nor template_card", { response_code: "$code" }, 40058],
    ["a button without replace_name", { response_code: "$code", button: {} }, 42020],
    ["no recipients", { response_code: "$code", userids: [], button: { replace_name: "x" } }, 82001],
    ["userids that are not strings", { response_code: "$code", userids: [1], button: { replace_name: "x" } }, 40058],
    ["partyids that are not integers", { response_code: "$code", partyids: ["2"], button: { replace_name: "x" } }, 40058],
    ["over 1000 userids", { response_code: "$code", userids: Array(1001).fill("u"), button: { replace_name: "x" } }, 40032],
    ["over 100 partyids", { response_code: "$code", partyids: Array(101).fill(1), button: { replace_name: "x" } }, 82002],
    ["over 100 tagids", { response_code: "$code", tagids: Array(101).fill(1), button: { replace_name: "x" } }, 82003],
    ["parties only", { response_code: "$code", userids: [], partyids: [2, 3], button: { replace_name: "x" } }, 0],
  ])("answers an update with %s with errcode %i, keeping the code unless accepted", async (_label, body: Json, errcode) => {
    const fake = await start();
    const token = await tokenFor(fake);
    const { response_code: code } = await sendCard(fake, buttonCard(), token);
    const withCode = body.response_code === "$code" ? { ...body, response_code: code } : body;

    const reply = await update(fake, withCode, token);
    const retry = await update(fake, greyOut(code), token);

    expect(reply.errcode).toBe(errcode);
    expect(retry.errcode).toBe(errcode === 0 ? 42022 : 0);
  });

  it("checks the token and agentid like message/send", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const { response_code: code } = await sendCard(fake, buttonCard(), token);
    const url = `${fake.url}/cgi-bin/message/update_template_card`;

    expect((await post(url, greyOut(code))).errcode).toBe(41001);
    expect((await post(`${url}?access_token=nope`, greyOut(code))).errcode).toBe(40014);
    expect((await update(fake, { ...greyOut(code), agentid: "x" }, token)).errcode).toBe(40056);
    expect((await update(fake, { ...greyOut(code), agentid: 1 }, token)).errcode).toBe(301002);
    fake.expireTokens();
    expect((await update(fake, greyOut(code), token)).errcode).toBe(42001);
    expect(fake.cardUpdates()).toEqual([]);
  });

  it("refuses a code from another app's card with 42015", async () => {
    const other: FakeApp = { corpId: DEFAULT_FAKE_APP.corpId, secret: "other-secret" };
    const fake = await start({ apps: [DEFAULT_FAKE_APP, other] });
    const { response_code: code } = await sendCard(fake, buttonCard());

    const reply = await update(fake, { ...greyOut(code), agentid: 1000009 }, await tokenFor(fake, other));

    expect(reply.errcode).toBe(42015);
  });

  it("works with failNext, requests(), waitForCardUpdates and reset()", async () => {
    const fake = await start();
    const token = await tokenFor(fake);
    const { response_code: code } = await sendCard(fake, buttonCard(), token);
    fake.failNext(1, { errcode: -1 }, "card_update");
    const waiting = fake.waitForCardUpdates(1, { timeoutMs: 2000 });

    const faulted = await update(fake, greyOut(code), token);
    const accepted = await update(fake, greyOut(code), token);

    expect([faulted.errcode, accepted.errcode]).toEqual([-1, 0]);
    expect((await waiting).map((u) => u.replaceName)).toEqual(["Acked"]);
    expect(fake.requests("card_update").map((r) => [r.injected, r.reply])).toEqual([
      [true, { httpStatus: 200, errcode: -1 }],
      [false, { httpStatus: 200, errcode: 0 }],
    ]);

    fake.reset();
    expect([fake.cardUpdates(), fake.appMessages(), fake.requests()]).toEqual([[], [], []]);
    // The task id and the code are forgotten too.
    const again = await sendCard(fake, buttonCard());
    expect(again.errcode).toBe(0);
    expect((await update(fake, greyOut(code))).errcode).toBe(40058);
  });
});
